"""The worker: periodic jobs run with ``schedule``.

It loads spooled clicks into the database (a thread, every
``tracking.spool_flush_ms``), sends due deliveries (claiming batches, so
several workers on several machines share the work), makes the weekly payout
run, writes a heartbeat for the operator's health page every
``health.BEAT_SECONDS``, and runs the jobs plugins add. On SIGTERM or
SIGINT it finishes the batch in hand, gives back its unsent claims and exits.

The signal handler only sets a plain flag: a handler runs in the main thread
between two bytecodes, possibly while that thread holds a lock (inside
``threading.Event.wait``), so taking any lock there can hang the worker for
good. The main loop sleeps in short slices, sees the flag, and sets the
``stopping`` event that the other threads wait on.
"""

import logging
import os
import signal
import socket
import threading
import time

import schedule

from .core import clock, health
from .core.clicks import rollup
from .core.deliveries import outbox
from .core.earnings import payouts
from .core.storage.retention import RetentionJob
from .core.storage.db import db

log = logging.getLogger("affnet.worker")


class Worker:
    def __init__(self, services, app=None, worker_id: str | None = None):
        self.services = services
        self.settings = services.settings
        self.app = app
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.policy = outbox.RetryPolicy.from_settings(self.settings)
        self.stopping = threading.Event()
        self.signalled = None  # set by the signal handler, and nothing else
        self.scheduler = schedule.Scheduler()
        self.scheduler.every(self.settings["worker.poll_seconds"]).seconds.do(self._job, self.send_deliveries)
        self.scheduler.every(1).minutes.do(self._job, services.recorder.apply_waiting_reversals)
        self.scheduler.every(1).minutes.do(self._job, rollup.advance)  # clicks counted for the reports
        # retention: one pass a day, done in slices of at most 20 s so deliveries never wait long
        self.scheduler.every(10).minutes.do(self._job, RetentionJob.from_settings(self.settings).run)
        # payouts: the weekly run on the day and hour in force (a policy the operator may change on the
        # settings page: looked at again every minute); approved ones sent, sent ones asked about
        self.payout_job = None
        self.follow_payout_schedule()
        self.scheduler.every(1).minutes.do(self._job, self.follow_payout_schedule)
        self.scheduler.every(1).minutes.do(self._job, self.send_payouts)
        self.scheduler.every(5).minutes.do(self._job, self.poll_payouts)
        # the heartbeat the operator's health page reads
        self.started_at = clock.now()
        self.scheduler.every(health.BEAT_SECONDS).seconds.do(self._job, self.beat)
        services.pm.hook.register_jobs(scheduler=self.scheduler, app=app)

    def _job(self, function):
        try:
            with db.connection_context():
                return function()
        except Exception:  # one failed round must not stop the worker
            log.exception("job %s failed", getattr(function, "__name__", function))

    def follow_payout_schedule(self) -> tuple[str, str]:
        """Schedule the weekly run at ``payouts.weekday`` and ``payouts.time`` as they are now (again when
        either changed); returns them."""
        wanted = (self.settings["payouts.weekday"].lower(), self.settings["payouts.time"])
        if self.payout_job is not None and self.payout_schedule == wanted:
            return wanted
        if self.payout_job is not None:
            self.scheduler.cancel_job(self.payout_job)
            log.info("payout run moved to %s %s", *wanted)
        self.payout_job = getattr(self.scheduler.every(), wanted[0]).at(wanted[1]).do(self._job, self.payout_run)
        self.payout_schedule = wanted
        return wanted

    def beat(self) -> None:
        health.beat(self.worker_id, self.started_at)

    def payout_run(self):
        methods = payouts.Methods.from_plugins(self.services.pm)
        run, made = payouts.run_payouts(self.settings, methods)
        log.info("payout run %s (%s): %d payouts, %d skipped", run.week, run.mode, len(made), len(run.skipped))
        if run.mode == "auto":
            self.send_payouts()
        return run

    def send_payouts(self) -> dict:
        counts = payouts.send_approved(self.services, payouts.Methods.from_plugins(self.services.pm))
        if counts:
            log.info("payouts %s", " ".join(f"{key}={value}" for key, value in sorted(counts.items())))
        return counts

    def poll_payouts(self) -> dict:
        return payouts.poll_sent(self.services, payouts.Methods.from_plugins(self.services.pm))

    def send_deliveries(self) -> dict:
        """Send due deliveries, batch after batch, until none is due or we stop."""
        totals: dict[str, int] = {}
        while not self.stop_requested:
            counts = outbox.send_due(
                self.services.pm,
                self.services.registry,
                self.worker_id,
                self.services.plugin_config,
                self.policy,
                limit=self.settings["worker.batch_size"],
                claim_seconds=self.settings["worker.claim_seconds"],
            )
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            if counts["claimed"] < self.settings["worker.batch_size"]:
                break
        if totals.get("claimed"):
            log.info("deliveries %s", " ".join(f"{key}={value}" for key, value in sorted(totals.items())))
        return totals

    def run_once(self) -> dict:
        """Every job once (for cron and scripts); returns the delivery counts."""
        self._job(self.services.spool.load_ready)
        for job in list(self.scheduler.jobs):
            if job.job_func.args and job.job_func.args[0] in (self.send_deliveries, self.payout_run):
                continue  # the weekly run keeps its day: from cron, `affnet payouts run` on that day
            job.run()
        return self._job(self.send_deliveries) or {}

    @property
    def stop_requested(self) -> bool:
        return self.signalled is not None or self.stopping.is_set()

    def _signal(self, signum, _frame) -> None:
        self.signalled = signum  # a plain assignment: no lock, no I/O, no logging

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        log.info("worker %s started", self.worker_id)
        self._job(self.beat)
        loader = threading.Thread(
            target=self.services.spool.run_loader, args=(self.stopping,), name="affnet-spool-loader", daemon=True
        )
        loader.start()
        try:
            while not self.stop_requested:
                self.scheduler.run_pending()
                if not self.stop_requested:
                    time.sleep(min(0.2, max(self.scheduler.idle_seconds or 0.2, 0)))
            if self.signalled is not None:
                log.info("signal %s: stopped after the batch in hand", self.signalled)
        finally:
            self.stopping.set()  # from the main loop, never from the handler: wakes the loader thread
            with db.connection_context():
                released = outbox.release_claims(self.worker_id)
            log.info("worker %s stopped, released %d claims", self.worker_id, released)
            time.sleep(0)
