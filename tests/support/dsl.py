"""DSL texts the API tests share (each app used by several test files)."""

from __future__ import annotations

#: A chat app on the fake echo model (it answers with the query).
ECHO_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chatter}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  user_input_form: []
"""

#: A workflow app, for the routes that refuse non-chat apps.
FLOW_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Flow}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: end
      data: {type: end, title: End, outputs: []}
    edges:
    - {id: e1, source: start, target: end}
"""

#: A completion app on the fake echo model with one required input, ``topic``.
WRITER_COMPLETION = """\
version: 0.3.0
kind: app
app: {mode: completion, name: Writer}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "Write about {{topic}}"
  user_input_form: [{text-input: {variable: topic, label: Topic, required: true}}]
"""

#: A 3-node workflow: start (``text``) -> template-transform (upper case, ``!``) -> end (``shout``).
SHOUT_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Shout}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: true}]}
    - id: upper
      data:
        type: template-transform
        title: Upper
        variables: [{variable: t, value_selector: [start, text]}]
        template: "{{ t | upper }}!"
    - id: end
      data: {type: end, title: End, outputs: [{variable: shout, value_selector: [upper, output]}]}
    edges:
    - {id: e1, source: start, target: upper}
    - {id: e2, source: upper, target: end}
"""

#: A chat app on the fake echo model with a system prompt.
TERSE_CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chatter}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "You are terse."
  user_input_form: []
"""

#: A workflow whose LLM node answers a word every 300 ms.
SLOW_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Slow flow}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: LLM
        model:
          provider: fake
          name: script
          mode: chat
          completion_params: {script: '[{"content": "one two three four five six seven eight", "delay_ms": 300}]'}
        prompt_template: [{role: user, text: "count"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: end
      data: {type: end, title: End, outputs: [{variable: text, value_selector: [llm, text]}]}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: end}
"""
