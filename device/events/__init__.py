"""Events that leave the Pi: new/update/end from tracks, MQTT with an on-disk spool, Home
Assistant discovery."""
