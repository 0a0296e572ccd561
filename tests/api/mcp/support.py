"""The apps the MCP tests publish."""

from __future__ import annotations

__all__ = ["CHATFLOW", "FAILING_WORKFLOW", "TRIGGERED_WORKFLOW", "WORKFLOW"]


#: A workflow whose Start node describes its inputs: a required text with a hint, a select, a number.
WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Shout Box, description: Shouts the text it is given.}
workflow:
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {variable: text, label: Text, type: text-input, required: true, max_length: 200, hint: What to shout.}
        - {variable: tone, label: Tone, type: select, required: false, options: [loud, louder]}
        - {variable: times, label: Times, type: number, required: false}
    - id: upper
      data:
        type: template-transform
        title: Upper
        variables: [{variable: t, value_selector: [start, text]}, {variable: tone, value_selector: [start, tone]}]
        template: "{{ t | upper }}!{% if tone == 'louder' %}!!{% endif %}"
    - id: end
      data: {type: end, title: End, outputs: [{variable: shout, value_selector: [upper, output]}]}
    edges:
    - {id: e1, source: start, target: upper}
    - {id: e2, source: upper, target: end}
"""

#: A chatflow that echoes the message (fake echo model) and counts the turns of its conversation.
CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  conversation_variables:
  - {id: 5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b, name: turns, value_type: number, value: 0, description: turns}
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables: [{variable: name, label: Your name, type: text-input, required: false}]
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: fake, name: echo, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "{{#sys.query#}}"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: count
      data:
        type: assigner
        title: Count
        version: '2'
        items: [{variable_selector: [conversation, turns], operation: +=, input_type: constant, value: 1}]
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#llm.text#}} (turn {{#conversation.turns#}})"}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: count}
    - {id: e3, source: count, target: answer}
"""

#: A workflow whose LLM node fails: the fake script model is given no script.
FAILING_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Broken}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: Unscripted
        model: {provider: fake, name: script, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "hello"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: end
      data: {type: end, title: End, outputs: [{variable: text, value_selector: [llm, text]}]}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: end}
"""

#: A workflow started by a schedule, not by a person: it cannot be an MCP server.
TRIGGERED_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Nightly}
workflow:
  graph:
    nodes:
    - id: tick
      data:
        type: trigger-schedule
        title: Every night
        mode: visual
        frequency: daily
        visual_config: {time: "3:00 AM"}
    - id: end
      data: {type: end, title: End, outputs: []}
    edges:
    - {id: e1, source: tick, target: end}
"""

