"""The settings of `pisight run`, one `Key` each: its TOML place, type, default, flag and doc.

    from pisight.device.config.keys import TABLES, FLAG_KEYS, from_toml
    key = TABLES["model"]["threshold"]       # Key(section="model", name="threshold", ...)
    from_toml(key, 0.3)                      # 0.3; from_toml(key, "high") raises ValueError
    key.flag, key.dest, key.default          # "--threshold", "threshold", None

One table for both doors in: `pipeline/run.py` builds its flags from FLAG_KEYS, and
`config/load.py` checks a file against TABLES and ARRAYS, so a key and its flag cannot
drift apart. scripts/pisight.toml documents every key here (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pisight.device.config.checks import (
    Check,
    at_least,
    between,
    class_list,
    convert_toml,
    input_range,
    listen_address,
    thread_count,
    threads_check,
)
from pisight.device.events.archive import Retention
from pisight.device.events.event import EventOptions
from pisight.device.events.media import MediaOptions
from pisight.device.model.detector import DetectorOptions
from pisight.device.model.runtime import RUNTIMES
from pisight.device.track.tracks import TrackerOptions
from pisight.device.zones.geometry import ANCHORS


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    kind: str
    """bool, int, threads ("auto" or int), float, str, path, choice, strings, range, point
    or points."""
    default: Any
    flag: str | None
    help: str
    """One line with the default: the flag's help and the doc in scripts/pisight.toml."""
    example: str
    """A valid value written as TOML, for the fix in an error message."""
    check: Check | None = None
    choices: tuple[str, ...] = ()
    required: bool = False

    @property
    def dest(self) -> str | None:
        """The argparse attribute of the flag (and of the merged settings)."""
        return self.flag.removeprefix("--").replace("-", "_") if self.flag else None


def _key(section: str, name: str, kind: str, default: Any, flag: str | None, help: str,
         example: str, check: Check | None = None, **more: Any) -> Key:  # fmt: skip
    return Key(section, name, kind, default, flag, help, example, check, **more)


_TRACK = TrackerOptions()
_EVENT = EventOptions()
_MEDIA = MediaOptions(Path("."))
_KEEP = Retention()
_DETECT = DetectorOptions(model="")
_KEYS = (
    _key("model", "path", "str", None, "--model",
         "bundle directory or .tflite file (required: --model or [model] path)",
         '"/opt/pisight/models/current"'),
    _key("model", "labels", "str", None, "--labels",
         "label file, or a shipped list: coco, coco-tf1, voc, shapes (default: the bundle's "
         "own labels.txt)", '"coco"'),
    _key("model", "threshold", "float", None, "--threshold",
         "minimum score (default 0.5; classifiers 0)", "0.5", between(0, 1)),
    _key("model", "classes", "strings", (), "--classes",
         "labels to keep, comma-separated as a flag: person,car (default: all)",
         '["person", "car"]'),
    _key("model", "max_detections", "int", _DETECT.max_detections, "--max-detections",
         f"keep at most N detections per frame (default {_DETECT.max_detections})", "100",
         at_least(1)),
    _key("model", "top_k", "int", _DETECT.top_k, "--top-k",
         f"classifiers: report the k best classes (default {_DETECT.top_k})", "3", at_least(1)),
    _key("model", "input_range", "range", _DETECT.input_range, "--input-range",
         "float models without pisight.json: -1,1 or 0,1 (default -1,1)", "[-1, 1]"),
    _key("model", "threads", "threads", "auto", "--threads",
         "interpreter threads, or auto: the first run of a model on a machine tries each "
         "setting for a few seconds and keeps the fastest (default auto; N forces N)", '"auto"',
         threads_check),
    _key("model", "interpreters", "int", None, "--interpreters",
         "interpreters taking turns on frames (default: chosen by --threads auto; 1 with "
         "--threads N)", "2", at_least(1)),
    _key("model", "runtime", "choice", None, "--runtime",
         f"force an interpreter runtime: {', '.join(RUNTIMES)} (default: the first importable)",
         '"litert"', choices=tuple(RUNTIMES)),
    _key("model", "probe", "bool", True, "--probe",
         "load the model in a sandboxed child process first; --no-probe for a trusted model "
         "(default on)", "true"),
    _key("source", "spec", "str", None, "--source",
         "picamera, 0, /dev/video0, FILE, DIR or rtsp://... (default: picamera, else 0)",
         '"picamera"'),
    _key("source", "width", "int", None, "--width", "camera capture width (default: the "
         "camera's)", "1280", at_least(1)),
    _key("source", "height", "int", None, "--height", "camera capture height (default: the "
         "camera's)", "720", at_least(1)),
    _key("source", "loop", "bool", False, "--loop",
         "replay a video file or image directory forever (default off)", "true"),
    _key("source", "realtime", "bool", False, "--realtime",
         "play files at their own frame rate instead of as fast as inference runs "
         "(default off)", "true"),
    _key("tracking", "enabled", "bool", True, "--track",
         "follow objects over frames and give them track ids; --no-track: each frame alone "
         "(default on)", "true"),
    _key("tracking", "min_hits", "int", _TRACK.min_hits, "--min-hits",
         f"detections in a row before a track gets an id (default {_TRACK.min_hits})", "3",
         at_least(1)),
    _key("tracking", "max_misses", "int", _TRACK.max_misses, "--max-misses",
         f"frames a track survives unseen before it ends (default {_TRACK.max_misses})", "30",
         at_least(0)),
    _key("tracking", "match_iou", "float", _TRACK.match_iou, "--match-iou",
         f"least overlap (IoU) to match a detection to a track (default {_TRACK.match_iou})",
         "0.2", between(0, 1, open_=True)),
    _key("tracking", "max_jump", "float", _TRACK.max_jump, "--max-jump",
         f"box sizes a lost track may move and still be found (default {_TRACK.max_jump})",
         "1.5", at_least(0)),
    _key("events", "enabled", "bool", True, "--events",
         "make new/update/end events from confirmed tracks, for MQTT; --no-events: none "
         "(default on)", "true"),
    _key("events", "classes", "strings", (), "--event-classes",
         "labels that make events, comma-separated as a flag: person,car (default: all)",
         '["person"]'),
    _key("events", "min_score", "float", _EVENT.min_score, "--event-min-score",
         f"best score a track needs to become an event (default {_EVENT.min_score})", "0.6",
         between(0, 1)),
    _key("events", "min_hits", "int", _EVENT.min_hits, "--event-min-hits",
         f"detections a track needs to become an event (default {_EVENT.min_hits})", "5",
         at_least(1)),
    _key("media", "snapshots", "bool", False, "--snapshots",
         "keep each event's best frame as a JPEG (and send it to MQTT's snapshot topic) "
         "(default off)", "true"),
    _key("media", "clips", "bool", False, "--clips",
         "keep an MP4 clip of each event, from pre_roll_s before to post_roll_s after it "
         "(default off)", "true"),
    _key("media", "folder", "path", None, "--media-dir",
         "where snapshots, clips and event records go (default $STATE_DIRECTORY/events, "
         "else ~/.local/state/pisight/events)", '"/var/lib/pisight/events"'),
    _key("media", "pre_roll_s", "float", _MEDIA.pre_roll_s, "--pre-roll",
         f"seconds of video before an event's first sighting (default {_MEDIA.pre_roll_s:g})",
         "5", between(0, 30)),
    _key("media", "post_roll_s", "float", _MEDIA.post_roll_s, "--post-roll",
         f"seconds of video after an event's end (default {_MEDIA.post_roll_s:g})", "5",
         between(0, 60)),
    _key("media", "clip_fps", "float", _MEDIA.clip_fps, "--clip-fps",
         f"frames per second a clip keeps, each one an encode (default {_MEDIA.clip_fps:g})",
         "10", between(1, 60)),
    _key("media", "max_events", "int", _KEEP.max_events, "--keep-events",
         f"events whose files are kept, the oldest go first (default {_KEEP.max_events})",
         "500", at_least(1)),
    _key("media", "max_mb", "float", _KEEP.max_mb, "--keep-mb",
         f"MiB the folder may hold (default {_KEEP.max_mb:g})", "1000", at_least(1)),
    _key("media", "max_age_days", "float", _KEEP.max_age_days, "--keep-days",
         f"days an event's files are kept (default {_KEEP.max_age_days:g})", "7",
         at_least(0.01)),
    _key("mqtt", "host", "str", None, None,
         "broker host name or address; set it (or give --mqtt) to publish events (default: "
         "no MQTT)", '"192.168.1.10"'),
    _key("mqtt", "port", "int", None, None, "broker port (default 1883, with tls 8883)",
         "1883", between(1, 65535)),
    _key("mqtt", "tls", "bool", False, None, "connect with TLS (default off)", "true"),
    _key("mqtt", "ca_file", "path", None, None,
         "CA certificate of a broker with its own CA (default: the system's CAs)",
         '"/etc/pisight/broker-ca.pem"'),
    _key("mqtt", "username", "str", None, None, "broker user name (default: none)",
         '"pisight"'),
    _key("mqtt", "password_file", "path", None, None,
         "file whose first line is the broker password, chmod 600 (default: "
         "$PISIGHT_MQTT_PASSWORD)", '"/etc/pisight/mqtt.password"'),
    _key("mqtt", "client_id", "str", None, None, "MQTT client id (default pisight-<name>)",
         '"pisight-porch"'),
    _key("mqtt", "name", "str", None, None,
         "this device's name in topics and in Home Assistant (default: the host name)",
         '"porch"'),
    _key("mqtt", "topic_prefix", "str", None, None,
         "the start of every topic (default pisight/<name>)", '"pisight/porch"'),
    _key("mqtt", "discovery", "bool", True, None,
         "announce the entities to Home Assistant; false removes them (default on)", "true"),
    _key("mqtt", "discovery_prefix", "str", "homeassistant", None,
         "Home Assistant's discovery prefix (default homeassistant)", '"homeassistant"'),
    _key("mqtt", "spool", "path", None, None,
         "the file events wait in until the broker has them (default "
         "$STATE_DIRECTORY/events.sqlite, else ~/.local/state/pisight/events.sqlite)",
         '"/var/lib/pisight/events.sqlite"'),
    _key("mqtt", "spool_max", "int", 10000, None,
         "most events kept waiting; past it the oldest are dropped (default 10000)", "10000",
         at_least(1)),
    _key("live", "enabled", "bool", True, "--serve",
         "serve the live view; --no-serve: no live view at all (default on)", "true"),
    _key("live", "listen", "str", "127.0.0.1:8080", "--listen",
         "HOST:PORT of the live view (default 127.0.0.1:8080)", '"0.0.0.0:8080"', listen_address),
    _key("live", "auth_file", "str", None, "--auth-file",
         "file whose first line is USER:PASS for the live view's Basic auth "
         "(default: $PISIGHT_AUTH)", '"/etc/pisight/live.auth"'),
    _key("live", "insecure", "bool", False, "--insecure",
         "allow a non-loopback listen address without a password (default off)", "false"),
    _key("live", "jpeg_quality", "int", 80, "--jpeg-quality",
         "stream JPEG quality 1-100 (default 80)", "80", between(1, 100)),
    _key("live", "overlay", "bool", True, "--overlay",
         "draw the metrics line on the stream; --no-overlay: do not (default on)", "true"),
    _key("logs", "metrics", "path", None, "--log",
         "per-second metrics CSV (default: none)", '"/var/log/pisight/metrics.csv"'),
    _key("logs", "detections", "path", None, "--detections",
         "per-frame detections JSONL (default: none)", '"/var/log/pisight/detections.jsonl"'),
    _key("logs", "record", "path", None, "--record",
         "write the annotated video to this MP4 (default: none)", '"/var/log/pisight/run.mp4"'),
)  # fmt: skip

TABLES: dict[str, dict[str, Key]] = {}
for _k in _KEYS:
    TABLES.setdefault(_k.section, {})[_k.name] = _k
FLAG_KEYS: tuple[Key, ...] = tuple(k for k in _KEYS if k.flag)

_NAME = "name of the zone or line, unique in the file (required)"
_CLASSES = "labels it counts (default: all)"
_ANCHOR = "which point of a box counts: bottom (where it stands) or center (default bottom)"
ARRAYS: dict[str, dict[str, Key]] = {
    "zones": {k.name: k for k in (
        _key("zones", "name", "str", None, None, _NAME, '"door"', required=True),
        _key("zones", "points", "points", None, None,
             "the polygon's corners as fractions 0-1 of width and height, 3 or more (required)",
             "[[0.1, 0.2], [0.4, 0.2], [0.4, 0.9]]", required=True),
        _key("zones", "classes", "strings", (), None, _CLASSES, '["person"]'),
        _key("zones", "anchor", "choice", "bottom", None, _ANCHOR, '"bottom"', choices=ANCHORS),
    )},
    "lines": {k.name: k for k in (
        _key("lines", "name", "str", None, None, _NAME, '"street"', required=True),
        _key("lines", "start", "point", None, None,
             "one end, [x, y] as fractions 0-1 of width and height (required)", "[0.0, 0.6]",
             required=True),
        _key("lines", "end", "point", None, None,
             "the other end; crossing left to right of start->end counts as in (required)",
             "[1.0, 0.6]", required=True),
        _key("lines", "classes", "strings", (), None, _CLASSES, '["car"]'),
        _key("lines", "anchor", "choice", "bottom", None, _ANCHOR, '"bottom"', choices=ANCHORS),
    )},
}  # fmt: skip


def from_toml(key: Key, raw: Any) -> Any:
    """The value of a TOML entry as the pipeline takes it; ValueError says what is wrong."""
    value = convert_toml(key.kind, key.choices, raw)
    problem = key.check(value) if key.check else None
    if problem:
        raise ValueError(problem)
    return value


def arg_type(key: Key) -> Callable[[str], Any]:
    """The argparse type of a key's flag (bools use BooleanOptionalAction instead)."""
    types: dict[str, Callable[[str], Any]] = {
        "int": int, "float": float, "path": Path, "strings": class_list, "range": input_range,
        "threads": thread_count,
    }  # fmt: skip
    return types.get(key.kind, str)
