"""MQTT events against a real Mosquitto: availability, retained state, discovery, events, commands, login,
the bounded queue, reconnecting after a broker restart, and the last will of a killed appliance."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mqtt_broker import MosquittoBroker, MqttWatcher, free_port

from pose_appliance.config import EventsConfig, MqttEventsConfig
from pose_appliance.events import EventsError, NullEventSink, create_event_sink
from pose_appliance.events.mqtt_sink import EVENT_QUEUE_SIZE, MqttEventSink
from pose_appliance.types import (
    Activity,
    ActivityEvent,
    Frame,
    FrameResult,
    LabelDecision,
)

pytest.importorskip("paho.mqtt.client")
PREFIX = "pose-appliance/gym1"


@pytest.fixture
def broker(tmp_path):
    broker = MosquittoBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def sinks():
    made: list[MqttEventSink] = []
    yield made
    for sink in made:
        sink.close()


def mqtt_config(port: int, **settings) -> MqttEventsConfig:
    return MqttEventsConfig(host="127.0.0.1", port=port, device="gym1", **settings)


def start_sink(sinks, port: int, **settings) -> MqttEventSink:
    on_command = settings.pop("on_command", None)
    sink = MqttEventSink(mqtt_config(port, **settings), on_command=on_command)
    sinks.append(sink)
    sink.start()
    return sink


def result(label: str | None = "tree", *, hold_s: float = 0.0, reps: int = 0, events=(), fps: float = 30.0,
           score: float = 0.9) -> FrameResult:
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), index=0, timestamp=0.0)
    return FrameResult(frame=frame, pose=None, decision=LabelDecision(label=label, score=score if label else 0.0),
                       fps=fps, activity=Activity(pose=label, hold_s=hold_s, exercise="squat", reps=reps,
                                                  events=tuple(events)))


def wait_connected(sink: MqttEventSink, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not sink.connected:
        assert time.monotonic() < deadline, "the sink did not connect"
        time.sleep(0.02)


def test_none_is_the_baseline_and_mqtt_is_imported_only_when_chosen():
    assert isinstance(create_event_sink(EventsConfig()), NullEventSink)
    code = ("import sys; from pose_appliance.config import EventsConfig; from pose_appliance.events import "
            "create_event_sink; import pose_appliance.pipeline; create_event_sink(EventsConfig()); "
            "print('paho' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_bad_settings_name_the_key(tmp_path):
    with pytest.raises(EventsError, match=r"events\.mqtt\.device"):
        MqttEventSink(MqttEventsConfig(device="gym/1"))
    with pytest.raises(EventsError, match=r"events\.mqtt\.topic_prefix"):
        MqttEventSink(MqttEventsConfig(device="gym1", topic_prefix="a/#"))
    with pytest.raises(EventsError, match=r"events\.mqtt\.password_file: .*missing"):
        MqttEventSink(MqttEventsConfig(device="gym1", username="u", password_file=str(tmp_path / "missing")))
    with pytest.raises(EventsError, match=r"events\.mqtt\.username is empty"):
        MqttEventSink(MqttEventsConfig(device="gym1", password_file=str(tmp_path / "missing")))


def test_device_defaults_to_the_host_name():
    sink = MqttEventSink(MqttEventsConfig())
    assert sink.device and "/" not in sink.device
    assert sink.topics.state == f"pose-appliance/{sink.device}/state"


def test_availability_discovery_state_and_events(broker, sinks):
    sink = start_sink(sinks, broker.port)
    wait_connected(sink)
    sink.offer(result("tree", hold_s=0.0, events=[ActivityEvent("pose_start", 1.0, pose="tree")]), "lightning",
               "cpu")
    sink.offer(result("tree", hold_s=2.0, reps=1, events=[ActivityEvent("rep", 2.0, exercise="squat", reps=1)]),
               "lightning", "cpu")
    deadline = time.monotonic() + 5
    while (sink.last_state or {}).get("reps") != 1:
        assert time.monotonic() < deadline, "the state was not sent"
        time.sleep(0.02)
    # A subscriber that comes later gets the retained availability, state and discovery configs.
    watcher = MqttWatcher(broker.port)
    try:
        watcher.wait_for(lambda: len({t for t, _, r in watcher.messages if r}) >= 8, what="8 retained messages")
        assert watcher.payloads(f"{PREFIX}/availability") == [b"online"]
        state = watcher.json(f"{PREFIX}/state")[-1]
        assert state == {"pose": "tree", "score": 0.9, "hold_s": 2.0, "reps": 1, "exercise": "squat",
                         "fps": 30.0, "model": "lightning", "delegate": "cpu"}
        retained = {t for t, _, r in watcher.messages if r}
        configs = {}
        for key in ("pose", "score", "hold", "reps", "fps"):
            topic = f"homeassistant/sensor/gym1_{key}/config"
            assert topic in retained
            configs[key] = watcher.json(topic)[-1]
        for key, config in configs.items():
            assert config["state_topic"] == f"{PREFIX}/state"
            assert config["availability_topic"] == f"{PREFIX}/availability"
            assert config["unique_id"] == f"pose-appliance_gym1_{key}"
            assert config["device"]["identifiers"] == ["pose-appliance_gym1"]
            assert config["value_template"].startswith("{{ ") and "value_json." in config["value_template"]
        assert configs["hold"]["unit_of_measurement"] == "s" and configs["hold"]["device_class"] == "duration"
        button = watcher.json("homeassistant/button/gym1_reset_reps/config")[-1]
        assert button["command_topic"] == f"{PREFIX}/command" and button["payload_press"] == "reset_reps"

        # Events are not retained: a subscriber sees those published while it listens.
        sink.offer(result(None, events=[ActivityEvent("pose_end", 5.0, pose="tree", held_s=4.04)]), "lightning",
                   "cpu")
        watcher.wait_for(lambda: watcher.payloads(f"{PREFIX}/event"), what="an event")
        event = watcher.json(f"{PREFIX}/event")[-1]
        assert {k: event[k] for k in ("type", "pose", "held_s")} == {"type": "pose_end", "pose": "tree",
                                                                   "held_s": 4.0}
        assert event["time"].endswith("+00:00")
        watcher.wait_for(lambda: watcher.json(f"{PREFIX}/state")[-1]["pose"] is None, what="the state change")
    finally:
        watcher.close()
    sink.close()
    # A clean stop leaves "offline" retained for the next subscriber.
    late = MqttWatcher(broker.port, f"{PREFIX}/availability")
    try:
        late.wait_payload(f"{PREFIX}/availability", b"offline")
    finally:
        late.close()


def test_state_is_sent_on_change_and_at_most_once_a_second_otherwise(broker, sinks):
    sink = start_sink(sinks, broker.port, discovery_prefix="")
    wait_connected(sink)
    watcher = MqttWatcher(broker.port, f"{PREFIX}/#")
    try:
        started = time.monotonic()
        hold = 0.0
        while time.monotonic() - started < 2.5:  # 30 fps of a held pose: hold_s and fps move every frame
            hold += 1 / 30
            sink.offer(result("tree", hold_s=hold, fps=29.0 + hold % 1), "m", "cpu")
            time.sleep(1 / 30)
        drifting = len(watcher.payloads(f"{PREFIX}/state"))
        assert 2 <= drifting <= 4
        sink.offer(result("tree", hold_s=hold, reps=1), "m", "cpu")  # a count: at once, not a second later
        watcher.wait_for(lambda: watcher.json(f"{PREFIX}/state")[-1]["reps"] == 1, timeout=0.5,
                         what="the new count within half a second")
        assert not any(topic.startswith("homeassistant/") for topic, _, _ in watcher.messages)
    finally:
        watcher.close()


def test_reset_command(broker, sinks):
    commands: list[str] = []
    sink = start_sink(sinks, broker.port, on_command=commands.append)
    wait_connected(sink)
    watcher = MqttWatcher(broker.port, f"{PREFIX}/availability")
    try:
        # The sink's subscription may still be on its way to the broker: send until the first one arrives.
        deadline = time.monotonic() + 10
        while not commands and time.monotonic() < deadline:
            watcher.client.publish(f"{PREFIX}/command", "explode", qos=1)
            watcher.client.publish(f"{PREFIX}/command", "reset_reps", qos=1)
            time.sleep(0.3)
        time.sleep(0.3)
        assert commands and set(commands) == {"reset_reps"}  # an unknown command is logged, not acted on
    finally:
        watcher.close()


def test_password_file_login(tmp_path, sinks, caplog):
    broker = MosquittoBroker(tmp_path, users={"coach": "s3cret"})
    broker.start()
    try:
        good = tmp_path / "good"
        good.write_text("s3cret\n")
        sink = start_sink(sinks, broker.port, username="coach", password_file=str(good))
        wait_connected(sink)
        watcher = MqttWatcher(broker.port, f"{PREFIX}/availability", username="coach", password="s3cret")
        try:
            watcher.wait_payload(f"{PREFIX}/availability", b"online")
        finally:
            watcher.close()
        sink.close()

        wrong = tmp_path / "wrong"
        wrong.write_text("guess\n")
        with caplog.at_level(logging.INFO, logger="pose_appliance.events.mqtt_sink"):
            refused = start_sink(sinks, broker.port, username="coach", password_file=str(wrong))
            started = time.perf_counter()
            for _ in range(1000):
                refused.offer(result(events=[ActivityEvent("rep", 0.0, exercise="squat", reps=1)]), "m", "cpu")
            offered = time.perf_counter() - started
            time.sleep(3.5)  # long enough for paho to retry the login (backoff 1 s, 2 s)
        assert not refused.connected
        assert offered < 0.5  # a refused login costs the pipeline nothing: offer only hands over
        lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(lines) == 1, lines  # logged once, not once per retry
        assert "events.mqtt.username and password_file" in lines[0]
    finally:
        broker.stop()


def test_queue_is_bounded_and_drops_the_oldest_with_a_count(sinks):
    sink = start_sink(sinks, free_port())  # nothing listens there
    for n in range(EVENT_QUEUE_SIZE + 40):
        sink.offer(result(events=[ActivityEvent("rep", float(n), exercise="squat", reps=n)]), "m", "cpu")
    assert sink.dropped_events == 40
    kept = [event.reps for event, _ in sink._events]
    assert kept[0] == 40 and kept[-1] == EVENT_QUEUE_SIZE + 39 and len(kept) == EVENT_QUEUE_SIZE


def test_close_keeps_its_timeout_while_a_connect_goes_unanswered():
    # A broker host that drops connection attempts (down, firewalled): here a listener whose accept queue is full.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname()):  # fills the queue: further SYNs go unanswered
            sink = MqttEventSink(mqtt_config(listener.getsockname()[1]))
            sink.start()
            time.sleep(0.5)  # paho's thread is inside its connect attempt
            network = sink.threads()
            started = time.monotonic()
            sink.close(timeout=1.0)
            took = time.monotonic() - started
            for thread in network:
                thread.join(10)  # it gives up its connect attempt on its own, then ends
            assert not any(thread.is_alive() for thread in network)
    assert took < 1.5, f"close(timeout=1.0) took {took:.1f} s"


def test_reconnects_after_a_broker_restart_and_delivers_what_waited(broker, sinks, caplog):
    with caplog.at_level(logging.INFO, logger="pose_appliance.events.mqtt_sink"):
        sink = start_sink(sinks, broker.port)
        wait_connected(sink)
        broker.stop()
        deadline = time.monotonic() + 10
        while sink.connected:
            assert time.monotonic() < deadline, "the sink did not notice the broker going away"
            time.sleep(0.02)
        sink.offer(result("warrior", reps=3, events=[ActivityEvent("rep", 9.0, exercise="squat", reps=3)]), "m",
                   "cpu")
        time.sleep(2.5)  # a few failed reconnects: logged once
        broker.start()
        watcher = MqttWatcher(broker.port)
        try:
            watcher.wait_for(lambda: watcher.payloads(f"{PREFIX}/event"), timeout=40, what="the waiting event")
            assert watcher.json(f"{PREFIX}/event")[-1]["reps"] == 3
            watcher.wait_payload(f"{PREFIX}/availability", b"online")
            watcher.wait_for(lambda: watcher.json(f"{PREFIX}/state")
                             and watcher.json(f"{PREFIX}/state")[-1]["reps"] == 3, what="the state")
            # The restarted broker (no persistence) gets the discovery configs again.
            watcher.wait_for(lambda: watcher.payloads("homeassistant/sensor/gym1_reps/config"),
                             what="discovery")
        finally:
            watcher.close()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("lost the connection" in m for m in messages) == 1
    assert sum("cannot reach" in m for m in messages) <= 1
    assert sum(m.startswith("MQTT: connected") for m in messages) == 2


# ------------------------------------------------------------------------------------------------- doctor
def test_doctor_logs_in_at_the_broker(tmp_path):
    from pose_appliance.config import Config, replace
    from pose_appliance.doctor import check_events

    broker = MosquittoBroker(tmp_path, users={"coach": "s3cret"})
    broker.start()
    try:
        password = tmp_path / "password"
        password.write_text("s3cret\n")
        config = replace(Config(), "events.type", "mqtt")
        for key, value in (("host", "127.0.0.1"), ("port", broker.port), ("username", "coach"),
                           ("password_file", str(password)), ("device", "gym1")):
            config = replace(config, f"events.mqtt.{key}", value)
        [check] = check_events(config)
        assert check.status == "OK" and f"127.0.0.1:{broker.port} as coach" in check.what
        password.write_text("wrong\n")
        [check] = check_events(config)
        assert check.status == "FAIL" and "refused the login" in check.what and "password_file" in check.fix
    finally:
        broker.stop()
    [check] = check_events(config)
    assert check.status == "FAIL" and "cannot reach" in check.what and "start the broker" in check.fix
    assert check_events(Config()) == []


# ------------------------------------------------------------------------------------- the real appliance
def write_config(path: Path, models_dir: Path, video: Path, *, port: int | None, device: str = "gym1",
                 loop: bool = False, exercise: str = "squat", name_every_pose: bool = False) -> None:
    """``name_every_pose`` turns the open-set check off (classifier.min_familiarity = 0): squats are no yoga
    pose and get no label otherwise, and the pose events need labels."""
    events = (f'[events]\ntype = "mqtt"\n[events.mqtt]\nhost = "127.0.0.1"\nport = {port}\ndevice = "{device}"\n'
              if port else '[events]\ntype = "none"\n')
    classifier = "[classifier]\nmin_familiarity = 0.0\n" if name_every_pose else ""
    path.write_text(f"""{classifier}
[camera]
type = "video"
[camera.video]
path = "{video}"
loop = {str(loop).lower()}
realtime = {str(loop).lower()}
[display]
type = "null"
[counting]
exercise = "{exercise}"
[service]
models_dir = "{models_dir}"
{events}""")


def start_appliance(config: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=err)


def test_squats_reach_mqtt_end_to_end_and_a_clean_stop_says_offline(broker, tmp_path, models_dir, shared):
    config = tmp_path / "config.toml"
    write_config(config, models_dir, shared / "data/tfjs_pose_detection/pose_squats.mp4", port=broker.port,
                 name_every_pose=True)
    watcher = MqttWatcher(broker.port)
    try:
        subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--config", str(config)], check=True,
                       capture_output=True, timeout=120)
        watcher.wait_payload(f"{PREFIX}/availability", b"offline")
        events = watcher.json(f"{PREFIX}/event")
        assert [(e["reps"], e["exercise"]) for e in events if e["type"] == "rep"] == [(1, "squat"), (2, "squat")]
        starts = [e for e in events if e["type"] == "pose_start"]
        ends = [e for e in events if e["type"] == "pose_end"]
        assert starts and len(ends) in (len(starts) - 1, len(starts))
        assert all(e["held_s"] >= 0 for e in ends)
        final = watcher.json(f"{PREFIX}/state")[-1]
        assert final["reps"] == 2 and final["exercise"] == "squat" and final["model"] == "movenet_lightning_int8"
        assert final["delegate"] == "cpu"
        assert watcher.payloads(f"{PREFIX}/availability")[0] == b"online"
        assert len(watcher.payloads("homeassistant/sensor/gym1_reps/config")) == 1
        held = [state for state in watcher.json(f"{PREFIX}/state") if state["pose"]]
        save_mqtt_screenshot(tmp_path, watcher.messages, max(held, key=lambda state: state["hold_s"]))
    finally:
        watcher.close()


def test_reset_by_signal_and_by_command_then_the_last_will_after_sigkill(broker, tmp_path, models_dir, shared):
    config = tmp_path / "config.toml"
    write_config(config, models_dir, shared / "data/tfjs_pose_detection/pose_squats.mp4", port=broker.port,
                 loop=True)
    watcher = MqttWatcher(broker.port, f"{PREFIX}/#")
    process = start_appliance(config, tmp_path / "appliance.log")
    try:
        def reps() -> int:
            states = watcher.json(f"{PREFIX}/state")
            return states[-1]["reps"] if states else -1

        watcher.wait_for(lambda: reps() >= 1, timeout=60, what="a first squat")
        process.send_signal(signal.SIGUSR1)
        watcher.wait_for(lambda: reps() == 0, timeout=10, what="the count reset by SIGUSR1")
        watcher.wait_for(lambda: reps() >= 1, timeout=30, what="the next squat")
        watcher.client.publish(f"{PREFIX}/command", "reset_reps", qos=1)
        watcher.wait_for(lambda: reps() == 0, timeout=10, what="the count reset by the MQTT command")
        assert watcher.payloads(f"{PREFIX}/availability") == [b"online"]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        # No goodbye from a killed process: the broker publishes its last will as soon as the socket closes.
        watcher.wait_payload(f"{PREFIX}/availability", b"offline", timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        watcher.close()
    log = (tmp_path / "appliance.log").read_text()
    assert "SIGUSR1 received: reset" in log and "MQTT: reset_reps received" in log


def test_events_and_counting_reload_live(broker, tmp_path, models_dir, shared):
    config = tmp_path / "config.toml"
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    write_config(config, models_dir, video, port=None, loop=True, exercise="none")
    watcher = MqttWatcher(broker.port, "pose-appliance/#")
    process = start_appliance(config, tmp_path / "appliance.log")
    try:
        time.sleep(3)
        assert watcher.messages == []  # events.type = "none": nothing is sent
        write_config(config, models_dir, video, port=broker.port, loop=True, exercise="none")
        watcher.wait_payload(f"{PREFIX}/availability", b"online", timeout=20)
        watcher.wait_for(lambda: watcher.payloads(f"{PREFIX}/state"), what="a state")
        assert watcher.json(f"{PREFIX}/state")[-1]["exercise"] is None
        write_config(config, models_dir, video, port=broker.port, device="gym2", loop=True, exercise="squat")
        watcher.wait_payload("pose-appliance/gym2/availability", b"online", timeout=20)
        assert watcher.payloads(f"{PREFIX}/availability")[-1] == b"offline"  # the old device said goodbye
        watcher.wait_for(lambda: watcher.payloads("pose-appliance/gym2/state")
                         and watcher.json("pose-appliance/gym2/state")[-1]["exercise"] == "squat",
                         what="the new counting in the state")
        # A bad events setting is refused and the running sink stays.
        config.write_text(config.read_text().replace('device = "gym2"', 'device = "gym/2"'))
        time.sleep(2.5)
        assert process.poll() is None
        process.terminate()
        process.wait(20)
        assert watcher.payloads("pose-appliance/gym2/availability")[-1] == b"offline"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        watcher.close()
    log = (tmp_path / "appliance.log").read_text()
    assert "events.mqtt.device: 'gym/2'" in log and "still running the previous config" in log


def test_a_changed_password_file_is_used_at_the_next_reload(tmp_path, models_dir, shared):
    """The password lives outside the config: after a wrong one is corrected in its file, a reload (SIGHUP, the
    config unchanged) logs in with the new one. An unchanged password file leaves the connection alone."""
    (tmp_path / "broker").mkdir()
    broker = MosquittoBroker(tmp_path / "broker", users={"coach": "s3cret"})
    broker.start()
    config, password = tmp_path / "config.toml", tmp_path / "mqtt-password"
    password.write_text("guess\n")
    write_config(config, models_dir, shared / "data/tfjs_pose_detection/pose_1.mp4", port=broker.port, loop=True,
                 exercise="none")
    config.write_text(config.read_text() + f'username = "coach"\npassword_file = "{password}"\n')
    watcher = MqttWatcher(broker.port, f"{PREFIX}/#", username="coach", password="s3cret")
    process = start_appliance(config, tmp_path / "appliance.log")
    log = tmp_path / "appliance.log"
    try:
        deadline = time.monotonic() + 30
        while "refused" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "refused" in log.read_text(), log.read_text()
        password.write_text("s3cret\n")
        process.send_signal(signal.SIGHUP)
        watcher.wait_payload(f"{PREFIX}/availability", b"online", timeout=20)
        watcher.wait_for(lambda: watcher.payloads(f"{PREFIX}/state"), what="a state")
        onlines = watcher.payloads(f"{PREFIX}/availability").count(b"online")
        process.send_signal(signal.SIGHUP)  # the same password: the sink stays, no new "online"
        deadline = time.monotonic() + 30
        while log.read_text().count("reloaded (SIGHUP)") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert log.read_text().count("reloaded (SIGHUP)") == 2
        assert watcher.payloads(f"{PREFIX}/availability").count(b"online") == onlines
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(20)
        watcher.close()
        broker.stop()


# ---------------------------------------------------------------------------------------- docs screenshot
def save_mqtt_screenshot(tmp_path: Path, messages: list[tuple[str, bytes, bool]], state: dict) -> None:
    """The messages of a real run (as ``mosquitto_sub -v`` prints them) beside the dashboard values Home
    Assistant's sensors take from the retained state, rendered by headless Chromium. Written as mqtt.png into
    $POSE_APPLIANCE_SCREENSHOTS when set (e.g. docs/screenshots): tests never write into the repository."""
    import html

    import cv2
    from conftest import SCREENSHOTS_ENV, chromium

    shown, states = [], 0
    for topic, payload, _ in messages:
        text = payload.decode()
        if topic.endswith("/state"):
            states += 1
            if states > 2 and json.loads(text) != state:
                continue
        line = f"<b>{html.escape(topic)}</b> {html.escape(text[:150] + ('...' if len(text) > 150 else ''))}"
        shown.append(f"<mark>{line}</mark>" if topic.endswith("/state") and json.loads(text) == state else line)
    hold = f"{state['hold_s']:.1f} s"
    rows = [("Pose", state["pose"] or "none"), ("Pose score", f"{round(state['score'] * 100)} %"), ("Hold", hold),
            ("Repetitions", str(state["reps"])), ("Frame rate", f"{state['fps']} fps")]
    card = "".join(f"<tr><td>{name}</td><td>{html.escape(value)}</td></tr>" for name, value in rows)
    page = tmp_path / "mqtt.html"
    page.write_text(f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; font: 13px/1.35 monospace; background: #1e1e1e; color: #ddd; display: flex; }}
pre {{ margin: 0; padding: 12px; white-space: pre-wrap; word-break: break-all; flex: 1; }}
b {{ color: #7fd3ff; font-weight: normal; }} mark {{ background: #3a3a10; color: inherit; }}
.card {{ font: 15px sans-serif; background: #fff; color: #212121; margin: 12px; padding: 12px 16px; width: 260px;
        border-radius: 12px; align-self: flex-start; }}
.card h2 {{ font-size: 18px; margin: 0 0 8px; }} .card td {{ padding: 4px 8px 4px 0; }}
.card td + td {{ text-align: right; font-weight: bold; }} .card p {{ color: #777; font-size: 12px; }}
</style><pre>$ mosquitto_sub -v -t 'pose-appliance/#' -t 'homeassistant/#'
{chr(10).join(shown)}</pre>
<div class="card"><h2>gym1</h2><table>{card}</table>
<p>what the five discovered sensors show (from the highlighted state)</p></div>""")
    shot = tmp_path / "mqtt.png"
    run = chromium(tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1100,900")
    assert shot.is_file(), run.stderr[-2000:]
    image = cv2.imread(str(shot))
    card = image[12:60, 1100 - 300:1100 - 20]  # the white card in the top right corner
    assert card.mean() > 200
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok and len(data) < 250_000
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        (Path(folder) / "mqtt.png").write_bytes(data.tobytes())


# -------------------------------------------------------------------------------------------------- bench
def test_bench_events_interleaves_the_modes_in_one_run(broker, models_dir, tmp_path, capsys):
    from pose_appliance.cli import main

    out = tmp_path / "events.json"
    assert main(["bench", "--events", "--models-dir", str(models_dir), "--frames", "90",
                 "--broker", f"127.0.0.1:{broker.port}", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["cycles"] >= 3 and set(report["fps"]) == {"none", "broker_down", "broker_up"}
    assert all(len(values) == report["cycles"] for values in report["fps"].values())
    for name in ("broker_down", "broker_up"):
        assert report["overall_fps_ratio"][name] > 0 and report["median_cpu_ratio"][name] > 0
        assert report["threads_us_per_frame"][name] > 0  # the sink's own threads did the publishing
    assert report["threads_us_per_frame"]["none"] == 0
    assert "fps ratio to none: overall" in capsys.readouterr().out
