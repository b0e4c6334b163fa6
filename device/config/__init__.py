"""The settings file of `pisight run` and the Pi service (TOML, stdlib tomllib).

    pisight run --config /etc/pisight/pisight.toml --check-config

keys.py is the schema (every key, its type, default, flag and doc), locate.py finds the
line of a key in the text, load.py reads and checks a file (`load_config`, `ConfigError`),
merge.py lays the flags over it (`merge`, `credentials`). Imports device.model, device.live,
device.track and device.zones; nothing imports pipeline from here.
"""
