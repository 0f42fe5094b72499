"""The ``lumen`` adapter: Lumen render jobs (a plugin written the way docs/plugins.md says).

Lumen: ``POST /api/jobs`` answers ``{"job": {"id", "state"}}``, ``GET /api/jobs/{id}`` reports
``waiting -> working -> done`` (or ``error``), outputs are base64, the key goes in
``X-Lumen-Key`` and errors are ``{"error": {"code", "message"}}`` (the shared parser reads
them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from imagebridge import hookimpl
from imagebridge.adapter import (
    Accepted,
    Adapter,
    AuthenticationError,
    Capabilities,
    ContentPolicyError,
    ErrorCodes,
    Flow,
    GeneratedImage,
    ImageResult,
    InsufficientBalanceError,
    NotFoundError,
    Plan,
    PollPolicy,
    RateLimitError,
    ServerError,
    TaskHandle,
    TaskState,
    error_from_task,
)


class LumenAdapter(Adapter):
    """Lumen jobs: submit, poll, base64 outputs."""

    name = "lumen"
    description = "Lumen render jobs (test plugin)"
    default_base_url = "https://api.lumen.example/api"
    default_model = "lumen-1"
    models = ("lumen-1",)
    poll_policy = PollPolicy(interval=0.05, backoff=1.0, max_interval=0.05)
    error_codes: ClassVar[ErrorCodes] = {
        "bad_key": AuthenticationError,
        "no_credit": InsufficientBalanceError,
        "slow_down": RateLimitError,
        "nsfw": ContentPolicyError,
        "no_such_job": NotFoundError,
        "meltdown": ServerError,
    }

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(
            model=model, max_n=2, max_images_per_call=2, user=False, async_tasks=True
        )

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Lumen-Key": api_key}

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        task = yield from self.submit(plan)
        return (yield from self.wait(task))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        body = {"model": plan.model, "prompt": plan.request.prompt, "count": plan.n}
        response = yield httpx.Request("POST", self.url("/jobs"), json=body)
        assert response is not None
        job = self._job(response)
        task = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=str(job["id"]),
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
        )
        yield Accepted(task)
        return task

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        return httpx.Request("GET", self.url(f"/jobs/{quote(task.task_id, safe='')}"))

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        job = self._job(response, task.task_id)
        state = str(job.get("state"))
        if state == "done":
            return TaskState(state, "succeeded", 100.0, job)
        if state == "error":
            error = job.get("error") if isinstance(job.get("error"), Mapping) else {}
            failure = error_from_task(
                provider=self.name,
                task_id=task.task_id,
                code=error.get("code"),
                message=error.get("message"),
                codes=self.error_codes,
                body=dict(job),
            )
            return TaskState(state, "failed", error=failure)
        return TaskState(state, "queued" if state == "waiting" else "running")

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        outputs = state.payload.get("outputs") or ()
        images = [GeneratedImage(b64_json=item["b64"]) for item in outputs]
        return ImageResult(
            images=images, provider=self.name, model=task.model, task_ids=[task.task_id]
        )

    def _job(self, response: httpx.Response, task_id: str | None = None) -> Mapping[str, Any]:
        job = self.mapping(response, task_id=task_id).get("job")
        if not isinstance(job, Mapping) or not job.get("id"):
            raise self.unexpected(response, "the answer has no job", task_id=task_id)
        return job


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [LumenAdapter]
