"""Real Celery workers against the sandbox's moto server: two workers racing on one approved resize apply it once,
and a worker killed with SIGKILL between an AWS call and the state update leaves an action that is resolved (done,
as AWS shows it) or retried, never applied twice.

What moto saw is counted on the wire: a small HTTP proxy sits between the workers and moto, counts each operation
(EC2's `Action=`, the JSON protocols' X-Amz-Target) and can hold the response of one chosen call, so the test can
SIGKILL the worker while it waits for it. Nothing of ours is patched.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from capacity import tasks
from capacity.models import Action, Recommendation, Resource, TeamSettings
from capacity.services.actions.recovery import actions_lease_sweep
from capacity.services.approvals import recommendation_approve
from capacity.services.policies import policy_create, policy_evaluate
from config.celery import app
from sandbox.aws import sandbox_client
from tests.clock import python_command, python_env
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory, UserFactory
from tests.integration_support import ROOT, database_url_for_tests, sandbox_served, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ML_RESEARCH = "481516234202"
REGION = "us-east-1"


class MotoProxy:
    """Forwards every request to moto, counts operations, and can hold the response of one operation once."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname, parts.port
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.hold_operation = ""
        self.held = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def operation(headers, body: bytes) -> str:
        target = headers.get("X-Amz-Target")
        if target:
            return target.rsplit(".", 1)[-1]
        return parse_qs(body.decode(errors="replace")).get("Action", [""])[0]

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = proxy.operation(self.headers, body) or f"{self.command} {self.path.split('?')[0]}"
                with proxy.lock:
                    proxy.counts[operation] += 1
                connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=120)
                headers = {
                    key: value for key, value in self.headers.items() if key.lower() not in ("host", "connection")
                }
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if operation == proxy.hold_operation and not proxy.held.is_set():
                    proxy.held.set()  # moto has done it; the caller has not heard back
                    proxy.release.wait(120)
                try:
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller is gone (killed)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        return Handler

    def __enter__(self) -> MotoProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sandbox_server():
    with sandbox_served() as endpoint:
        yield endpoint


@pytest.fixture
def proxy(sandbox_server, settings):
    with MotoProxy(sandbox_server) as running:
        settings.COSTPLANE_AWS = "sandbox"
        settings.COSTPLANE_SANDBOX_ENDPOINT = running.url
        app.control.purge()  # no message from an earlier test reaches these workers
        yield running


@contextmanager
def worker(proxy_url: str, name: str) -> Iterator[subprocess.Popen]:
    env = dict(os.environ, DATABASE_URL=database_url_for_tests(), DEBUG="true", COSTPLANE_SANDBOX_ENDPOINT=proxy_url)
    process = subprocess.Popen(
        python_command("celery", "-A", "config", "worker", "-Q", "actions", "-c", "1", "-P", "solo",
                       "-n", f"{name}-{os.getpid()}@%h", "-l", "warning", "--without-gossip", "--without-mingle",
                       "--without-heartbeat"),
        cwd=ROOT, env=python_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ec2(proxy: MotoProxy):
    return sandbox_client("ec2", account_id=ML_RESEARCH, region=REGION, endpoint_url=proxy.url)


def instance_named(proxy: MotoProxy, name: str) -> dict:
    reservations = ec2(proxy).describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"]
    return reservations[0]["Instances"][0]


def approved_resize(instance_id: str, current: str, target: str) -> Action:
    account = CloudAccountFactory(account_id=ML_RESEARCH, name="ml-research", dry_run=False)
    team = TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    TeamSettings.objects.create(team=team, maintenance_window="Daily 00:00-24:00 UTC")
    now = timezone.now()
    recommendation = Recommendation.objects.create(
        source="costplane", kind="rightsize", account=account, region=REGION, resource_type="Ec2Instance",
        resource_arn=f"arn:aws:ec2:{REGION}:{ML_RESEARCH}:instance/{instance_id}", team=team,
        current_configuration=current, recommended_configuration=target, monthly_savings=Decimal("100"),
        first_seen=now, last_seen=now,
    )  # fmt: skip
    approver = TeamMembershipFactory(team=team).user
    return recommendation_approve(recommendation_id=recommendation.pk, user=approver)


def policy_stop(instance: dict) -> Action:
    account = CloudAccountFactory(account_id=ML_RESEARCH, name="ml-research", dry_run=False)
    now = timezone.now()
    resource = Resource.objects.create(
        account=account, region=REGION, kind="ec2_instance", resource_id=instance["InstanceId"], name="speech-scratch",
        instance_type=instance["InstanceType"], state="running", tags={"environment": "dev"}, first_seen=now,
        last_seen=now,
    )  # fmt: skip
    off, on = (now.hour - 1) % 24, (now.hour + 2) % 24  # off since an hour ago, on again in two
    policy = policy_create(
        user=UserFactory(roles=["operator"]),
        data={"name": "scratch at night", "action": "stop_start", "schedule": f"off=(*,{off});on=(*,{on})",
              "accounts": [account], "dry_run": False, "grace_minutes": 0},
    )  # fmt: skip
    policy_evaluate(policy_id=policy.pk, now=now)
    return Action.objects.get(policy=policy, resource=resource, kind="stop")


def test_it_applies_one_resize_once_when_two_real_workers_race(proxy):
    instance = instance_named(proxy, "vision-train-p4d-0")
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("p4d.24xlarge", "running")
    action = approved_resize(instance["InstanceId"], "p4d.24xlarge", "g5.12xlarge")

    with worker(proxy.url, "first"), worker(proxy.url, "second"):
        assert wait_for(lambda: len(app.control.ping(timeout=0.5)) >= 2, timeout=60), "the workers did not start"
        for _ in range(4):  # the beat queuing it again, and redelivery: every copy goes to one of the two workers
            tasks.action_execute_task.delay(action.pk)
        finished = wait_for(lambda: Action.objects.get(pk=action.pk).state in ("done", "failed"), timeout=120)
        assert finished, f"the action is still {Action.objects.get(pk=action.pk).state}"
        time.sleep(3)  # let the other copies run and find it decided
        stats = app.control.inspect(timeout=2).stats() or {}
        ran = {name: entry.get("total", {}).get(tasks.action_execute_task.name, 0) for name, entry in stats.items()}
    assert len(ran) == 2 and all(ran.values()), f"both workers took a copy: {ran}"

    action.refresh_from_db()
    assert action.state == "done", action.error
    assert proxy.counts["ModifyInstanceAttribute"] == 1
    assert proxy.counts["StopInstances"] == 1 and proxy.counts["StartInstances"] == 1
    after = instance_named(proxy, "vision-train-p4d-0")
    assert (after["InstanceType"], after["State"]["Name"]) == ("g5.12xlarge", "running")


def test_it_resolves_a_resize_whose_worker_was_killed_after_the_type_change_without_repeating_it(proxy, settings):
    instance = instance_named(proxy, "recsys-train-g5-0")
    action = approved_resize(instance["InstanceId"], instance["InstanceType"], "g5.4xlarge")
    proxy.hold_operation = "ModifyInstanceAttribute"

    with worker(proxy.url, "doomed") as process:
        tasks.action_execute_task.delay(action.pk)
        assert proxy.held.wait(120), "the worker never changed the type"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    proxy.release.set()

    action.refresh_from_db()
    assert action.state == "running"  # the worker died before it could write anything
    assert action.parameters["progress"]["initial_state"] == "running"
    halfway = instance_named(proxy, "recsys-train-g5-0")
    assert (halfway["InstanceType"], halfway["State"]["Name"]) == ("g5.4xlarge", "stopped")

    assert actions_lease_sweep(now=timezone.now()) == {}  # the lease has not run out yet
    swept = actions_lease_sweep(now=timezone.now() + timedelta(minutes=settings.COSTPLANE_ACTION_LEASE_MINUTES + 1))

    assert swept == {"done": 1}
    action.refresh_from_db()
    assert action.transitions.last().reason.startswith("Verified after the worker was lost")
    after = instance_named(proxy, "recsys-train-g5-0")
    assert (after["InstanceType"], after["State"]["Name"]) == ("g5.4xlarge", "running")
    # A redelivered task (acks_late) finds the action decided: moto saw the change exactly once.
    with worker(proxy.url, "second"):
        tasks.action_execute_task.delay(action.pk)
        time.sleep(5)  # time for the worker to take the message and find the action decided
    assert proxy.counts["ModifyInstanceAttribute"] == 1


def test_it_marks_a_policy_stop_done_when_aws_shows_it_after_its_worker_was_killed(proxy, settings):
    instance = instance_named(proxy, "speech-scratch")
    assert instance["State"]["Name"] == "running"
    action = policy_stop(instance)
    proxy.hold_operation = "StopInstances"

    with worker(proxy.url, "doomed") as process:
        tasks.action_execute_task.delay(action.pk)
        assert proxy.held.wait(120), "the worker never stopped the instance"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    proxy.release.set()

    assert Action.objects.get(pk=action.pk).state == "running"
    later = timezone.now() + timedelta(minutes=settings.COSTPLANE_ACTION_LEASE_MINUTES + 1)
    assert actions_lease_sweep(now=later) == {"done": 1}
    assert instance_named(proxy, "speech-scratch")["State"]["Name"] == "stopped"
    assert proxy.counts["StopInstances"] == 1
    assert Action.objects.get(pk=action.pk).result["changed"] is True  # so the on transition starts it again


def test_it_retries_a_policy_stop_once_when_its_worker_died_before_changing_anything(proxy, settings):
    instance = instance_named(proxy, "vision-dev-g5-0")
    if instance["State"]["Name"] != "running":
        ec2(proxy).start_instances(InstanceIds=[instance["InstanceId"]])
    action = policy_stop(instance | {"State": {"Name": "running"}})
    proxy.hold_operation = "DescribeInstances"

    with worker(proxy.url, "doomed") as process:
        tasks.action_execute_task.delay(action.pk)
        assert proxy.held.wait(120), "the worker never described the instance"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    proxy.release.set()

    # The lease runs out (the sweeper runs at real time here: the retry it plans is due at once).
    lease = timedelta(minutes=settings.COSTPLANE_ACTION_LEASE_MINUTES + 1)
    Action.objects.filter(pk=action.pk).update(heartbeat_at=timezone.now() - lease)
    assert actions_lease_sweep() == {"announced": 1}
    assert proxy.counts["StopInstances"] == 0
    with worker(proxy.url, "second"):
        tasks.action_execute_task.delay(action.pk)
        assert wait_for(lambda: Action.objects.get(pk=action.pk).state == "done", timeout=120)
    assert instance_named(proxy, "vision-dev-g5-0")["State"]["Name"] == "stopped"
    assert proxy.counts["StopInstances"] == 1
