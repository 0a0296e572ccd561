"""The Answer node (NODE-ANSWER): renders its template, outputs and emits the text; files show as
Markdown."""

from __future__ import annotations

from .support import MemoryRuntime, document, image, prepare


def test_renders_text_and_variables_and_emits_it() -> None:
    node = prepare("answer", {"answer": "Hi {{#start.name#}}! You asked: {{#sys.query#}} ({{#llm.n#}}, {{#x.ok#}})"})
    rt = MemoryRuntime({"start.name": "Ada", "sys.query": "2+2?", "llm.n": 4, "x.ok": True})
    result = node.run(rt)
    text = "Hi Ada! You asked: 2+2? (4, true)"
    assert result.outputs == {"answer": text, "files": []}
    assert rt.emitted == [("answer", text)]


def test_objects_render_as_json_and_missing_variables_as_nothing() -> None:
    node = prepare("answer", {"answer": "{{#code.obj#}}|{{#skipped.text#}}|{{#code.none#}}"})
    result = node.run(MemoryRuntime({"code.obj": {"名": [1, 2]}, "code.none": None}))
    assert result.outputs["answer"] == '{"名": [1, 2]}||'


def test_files_render_as_markdown_and_are_output() -> None:
    """NODE-ANSWER: an Answer can emit images and files."""
    node = prepare("answer", {"answer": "Here: {{#tool.image#}}\n{{#tool.files#}}"})
    pic, doc = image("cat.png"), document("report.pdf")
    result = node.run(MemoryRuntime({"tool.image": pic, "tool.files": [doc, pic]}))
    assert result.outputs["answer"] == (
        "Here: ![cat.png](https://files.example/cat.png)\n"
        "[report.pdf](https://example.com/report.pdf)\n![cat.png](https://files.example/cat.png)"
    )
    assert result.outputs["files"] == [pic, doc, pic]


def test_an_empty_answer_emits_nothing() -> None:
    rt = MemoryRuntime()
    assert prepare("answer", {"answer": ""}).run(rt).outputs == {"answer": "", "files": []}
    assert rt.emitted == []


def test_plain_text_without_variables_is_a_direct_reply() -> None:
    node = prepare("answer", {"answer": "Thanks, {{ not a reference }}"})
    assert node.run(MemoryRuntime()).outputs["answer"] == "Thanks, {{ not a reference }}"


def test_selectors_are_the_template_references() -> None:
    node = prepare("answer", {"answer": "{{#a.b#}}{{#c.d.e#}}"})
    assert node.selectors() == [("a", "b"), ("c", "d", "e")]
