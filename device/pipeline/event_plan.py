"""What a `pisight run` does with its events: EventOptions, MediaOptions and the MQTT
publisher from the merged settings, checked before any model loads.

    mqtt = mqtt_options(settings)                 # config/mqtt.py
    media = media_options(settings)
    events = event_options(settings, mqtt, media)  # None: no events
    publisher = make_publisher(mqtt, pipeline_options, media, detector.labels, "demo")
"""

from __future__ import annotations

import socket

from pisight.device.config.merge import Settings
from pisight.device.events.archive import Retention
from pisight.device.events.event import EventOptions
from pisight.device.events.media import MediaOptions
from pisight.device.events.mqtt_options import MqttOptions, state_path
from pisight.device.events.publisher import MqttPublisher
from pisight.device.model.labels import PLACEHOLDER, Labels
from pisight.device.pipeline.options import PipelineOptions


def event_options(
    s: Settings, mqtt: MqttOptions | None, media: MediaOptions
) -> EventOptions | None:
    """The events of this run; refuses MQTT or media when events or tracking are off."""
    needs = ((mqtt is not None, "MQTT publishes events"),
             (media.enabled, "snapshots and clips are of events"))  # fmt: skip
    for needed, what in needs:
        if needed and not (s.events and s.track):
            off = "--no-events" if not s.events else "--no-track"
            raise ValueError(f"{what}, and {off} turns them off; drop one of the two")
    if not (s.events and s.track):
        return None
    return EventOptions(
        classes=s.event_classes, min_score=s.event_min_score, min_hits=s.event_min_hits,
        camera=mqtt.name if mqtt else socket.gethostname(), snapshots=media.snapshots,
        clips=media.clips,
    )  # fmt: skip


def media_options(s: Settings) -> MediaOptions:
    """Always built, so its settings are checked; files are kept only when enabled."""
    retention = Retention(s.keep_events, s.keep_mb, s.keep_days)
    return MediaOptions(
        folder=s.media_dir or state_path("events"), snapshots=s.snapshots, clips=s.clips,
        pre_roll_s=s.pre_roll, post_roll_s=s.post_roll, clip_fps=s.clip_fps,
        retention=retention,
    )  # fmt: skip


def make_publisher(
    mqtt: MqttOptions, pipeline: PipelineOptions, media: MediaOptions | None, labels: Labels,
    model: str,
) -> MqttPublisher:  # fmt: skip
    """The MQTT side: a binary sensor per watched class (every class when none is named)."""
    events = pipeline.events
    watched = (events.classes if events else ()) or tuple(
        dict.fromkeys(name for name in labels.names if name != PLACEHOLDER)
    )
    return MqttPublisher(
        mqtt, watched, [zone.name for zone in pipeline.zones],
        [line.name for line in pipeline.lines], model,
        camera=media is not None and media.enabled and media.snapshots,
    )  # fmt: skip
