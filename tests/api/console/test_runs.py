"""Run logs over the console: an app's workflow runs, one run, and its node executions with inputs,
outputs, process data, timings, tokens and status; scoped to the app and workspace."""

from __future__ import annotations

from .conftest import CHAT, WORKFLOW, Console, error_of

CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: fake, name: echo, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "{{#sys.query#}}"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#llm.text#}}"}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: answer}
"""


async def test_runs_and_node_executions_of_an_app(console: Console) -> None:
    owner = await console.login()
    app_id = await console.api.add_app("flow", WORKFLOW)
    for text in ("hi", "yo"):
        run = await console.api.client.post(
            "/workflows/run", headers=console.api.auth("flow"), json={"inputs": {"text": text}, "user": "u1"}
        )
        assert run.status_code == 200, run.text
    last_run = run.json()["workflow_run_id"]

    listed = await console.client.get(f"/apps/{app_id}/workflow-runs", headers=owner, params={"limit": 1})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] == 2 and page["has_more"] is True and page["data"][0]["id"] == last_run
    assert page["data"][0]["status"] == "succeeded" and page["data"][0]["total_steps"] == 3
    failed_only = await console.client.get(f"/apps/{app_id}/workflow-runs", headers=owner, params={"status": "failed"})
    assert failed_only.json()["total"] == 0

    detail = await console.client.get(f"/apps/{app_id}/workflow-runs/{last_run}", headers=owner)
    assert detail.status_code == 200
    body = detail.json()
    assert body["inputs"]["text"] == "yo" and body["outputs"] == {"shout": "YO!"}
    assert body["graph"]["nodes"] and body["created_by_end_user"]["session_id"] == "u1"
    assert isinstance(body["created_at"], int) and isinstance(body["finished_at"], int)

    nodes = await console.client.get(f"/apps/{app_id}/workflow-runs/{last_run}/node-executions", headers=owner)
    assert nodes.status_code == 200
    executions = nodes.json()["data"]
    assert [n["node_id"] for n in executions] == ["start", "upper", "end"]
    upper = executions[1]
    assert upper["status"] == "succeeded" and upper["outputs"] == {"output": "YO!"}
    assert upper["elapsed_time"] >= 0 and upper["index"] == 2 and "inputs" in upper and "process_data" in upper
    assert isinstance(upper["execution_metadata"], dict) and isinstance(upper["finished_at"], int)


async def test_run_logs_are_scoped_and_need_the_logs_permission(console: Console) -> None:
    owner = await console.login()
    app_id = await console.api.add_app("flow", WORKFLOW)
    other_app = await console.api.add_app("chat", CHAT)
    run = await console.api.client.post(
        "/workflows/run", headers=console.api.auth("flow"), json={"inputs": {"text": "a"}, "user": "u1"}
    )
    run_id = run.json()["workflow_run_id"]
    wrong_app = await console.client.get(f"/apps/{other_app}/workflow-runs/{run_id}", headers=owner)
    assert wrong_app.status_code == 404 and error_of(wrong_app)["code"] == "not_found"
    wrong_nodes = await console.client.get(f"/apps/{other_app}/workflow-runs/{run_id}/node-executions", headers=owner)
    assert wrong_nodes.status_code == 404
    normal = await console.member(owner, "normal")
    assert (await console.client.get(f"/apps/{app_id}/workflow-runs", headers=normal)).status_code == 403
    bad_page = await console.client.get(f"/apps/{app_id}/workflow-runs", headers=owner, params={"page": "x"})
    assert bad_page.status_code == 400 and "page" in error_of(bad_page)["message"]


async def test_an_llm_nodes_tokens_and_prompts_are_in_its_execution(console: Console) -> None:
    owner = await console.login()
    app_id = await console.api.add_app("parrot", CHATFLOW)
    chat = await console.api.client.post(
        "/chat-messages", headers=console.api.auth("parrot"), json={"inputs": {}, "query": "hello there", "user": "u1"}
    )
    assert chat.status_code == 200, chat.text
    runs = (await console.client.get(f"/apps/{app_id}/workflow-runs", headers=owner)).json()["data"]
    assert len(runs) == 1 and runs[0]["type"] == "chat" and runs[0]["total_tokens"] > 0
    nodes = await console.client.get(f"/apps/{app_id}/workflow-runs/{runs[0]['id']}/node-executions", headers=owner)
    llm = next(n for n in nodes.json()["data"] if n["node_id"] == "llm")
    assert llm["status"] == "succeeded" and llm["outputs"]["text"] == "hello there"
    assert llm["execution_metadata"]["total_tokens"] > 0
    assert llm["process_data"] is not None
