#!/usr/bin/env python3
"""twinfleet device bridge for a Raspberry Pi: a DHT22 and a relay over MQTT.

Speaks the generic JSON wire format that `twin mirror` reads, the same as the
MicroPython firmware:

    <prefix>/<id>/telemetry  QoS 0       {"device_id":"pi-1","seq":42,
                                          "timestamp":1732871200.5,
                                          "temperature":21.4,"humidity":44.1,
                                          "relay":false}
    <prefix>/<id>/status     QoS 1, retained: "online"; last will "offline"
    <prefix>/<id>/cmd        {"set":{"relay":true}}, or on / off / toggle / 0 / 1

With --fake it simulates the DHT22 and the relay, and needs only paho-mqtt.
"""

import argparse
import json
import logging
import math
import os
import random
import signal
import socket
import threading
import time

import paho.mqtt.client as mqtt

log = logging.getLogger("twin_device")

KEEPALIVE_S = 60
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
DHT22_MIN_INTERVAL_S = 2.0  # the sensor answers at most once every 2 s


def parse_command(payload, current):
    """The relay state a command asks for, or None if it is not understood.

    Accepts {"set":{"relay":X}} or a bare X, where X is true/false, 1/0 or
    "on"/"off"/"toggle".
    """
    try:
        text = payload.decode().strip()
    except UnicodeDecodeError:
        return None
    try:
        value = json.loads(text)
    except ValueError:  # a bare word such as on, off or toggle
        value = text
    if isinstance(value, dict):
        value = value.get("set")
        if not isinstance(value, dict):
            return None
        value = value.get("relay")
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower()
        if word == "toggle":
            return not current
        if word in ("on", "true", "1"):
            return True
        if word in ("off", "false", "0"):
            return False
        return None
    if value in (0, 1):
        return value == 1
    return None


class Dht22:
    """DHT22 reader that never raises: a failed read gives (None, None)."""

    def __init__(self, bcm_pin):
        # Imported here so that --fake runs on machines without them.
        import adafruit_dht
        import board

        pin = getattr(board, f"D{bcm_pin}", None)
        if pin is None:
            raise SystemExit(f"--dht-pin {bcm_pin}: this board has no GPIO {bcm_pin}")
        self._sensor = adafruit_dht.DHT22(pin)
        self._read_at = None
        self._last = (None, None)
        self.errors = 0

    def read(self):
        now = time.monotonic()
        # A report right after a command comes sooner than the sensor allows;
        # it gets the previous reading.
        if self._read_at is not None and now - self._read_at < DHT22_MIN_INTERVAL_S:
            return self._last
        self._read_at = now
        try:
            temperature = self._sensor.temperature
            humidity = self._sensor.humidity
        except (RuntimeError, OSError) as e:  # timeouts and bad checksums are routine
            temperature = humidity = None
            log.warning("DHT22 read failed: %s", e)
        if temperature is None or humidity is None:
            self.errors += 1
            self._last = (None, None)
        else:
            self._last = (round(temperature, 1), round(humidity, 1))
        return self._last

    def close(self):
        self._sensor.exit()


class FakeClimate:
    """Stands in for a DHT22: a slow sine (10 min period) plus a little noise."""

    PERIOD_S = 600.0

    def __init__(self):
        self._start = time.monotonic()
        self.errors = 0

    def read(self):
        phase = 2 * math.pi * (time.monotonic() - self._start) / self.PERIOD_S
        temperature = 21.0 + 2.5 * math.sin(phase) + random.gauss(0, 0.1)
        humidity = 45.0 - 6.0 * math.sin(phase) + random.gauss(0, 0.3)
        return round(temperature, 1), round(humidity, 1)

    def close(self):
        pass


class FakeRelay:
    """In-memory relay with the part of gpiozero.OutputDevice used here."""

    def __init__(self):
        self.is_active = False

    def on(self):
        self.is_active = True

    def off(self):
        self.is_active = False

    def close(self):
        pass


def gpio_relay(bcm_pin, active_low):
    from gpiozero import OutputDevice  # imported here so that --fake runs without it

    return OutputDevice(bcm_pin, active_high=not active_low, initial_value=False)


def make_client(client_id):
    """A paho client for either the 1.x or the 2.x API."""
    if hasattr(mqtt, "CallbackAPIVersion"):
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    return mqtt.Client(client_id=client_id)


class Device:
    def __init__(self, args, climate, relay):
        self.device_id = args.device_id
        self.every = args.every
        self.climate = climate
        self.relay = relay
        base = f"{args.prefix}/{args.device_id}"
        self.telemetry_topic = f"{base}/telemetry"
        self.status_topic = f"{base}/status"
        self.cmd_topic = f"{base}/cmd"
        self.seq = 0  # per start, kept across reconnects
        # Set by the MQTT thread (connect, command) and by stop(); wakes the
        # report loop, which is the only place that reads the sensor.
        self._wake = threading.Event()
        self._stopping = False

        self.client = make_client(args.device_id)
        if args.username:
            self.client.username_pw_set(args.username, args.password)
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # paho 1.x calls on_connect(client, userdata, flags, rc) and 2.x adds a
    # properties argument; rc is an int in 1.x and a ReasonCode (which compares
    # equal to ints) in 2.x.
    def _on_connect(self, client, userdata, flags, reason_code, *properties):
        if reason_code != 0:
            log.warning("broker refused the connection: %s", reason_code)
            return
        log.info("connected as %s", self.device_id)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        client.subscribe(self.cmd_topic, qos=1)
        self._wake.set()  # report the current state straight away

    def _on_connect_fail(self, client, userdata):
        log.warning("cannot reach the broker, retrying")

    # 1.x: (client, userdata, rc); 2.x: (client, userdata, flags, reason_code, properties).
    def _on_disconnect(self, client, userdata, *args):
        reason = args[0] if len(args) == 1 else args[1]
        if not self._stopping:
            log.warning("disconnected (%s), reconnecting", reason)

    def _on_message(self, client, userdata, msg):
        target = parse_command(msg.payload, self.relay.is_active)
        if target is None:
            log.warning("ignored command: %r", msg.payload)
            return
        if target:
            self.relay.on()
        else:
            self.relay.off()
        log.info("relay -> %s", "on" if target else "off")
        # Report the new state at once: that is how the mirror's shadow sees
        # "reported" converge on "desired".
        self._wake.set()

    def publish_telemetry(self):
        temperature, humidity = self.climate.read()
        payload = {"device_id": self.device_id, "seq": self.seq, "timestamp": round(time.time(), 3)}
        if temperature is not None:
            payload["temperature"] = temperature
            payload["humidity"] = humidity
        payload["relay"] = self.relay.is_active
        if self.climate.errors:
            payload["read_errors"] = self.climate.errors
        info = self.client.publish(self.telemetry_topic, json.dumps(payload, separators=(",", ":")), qos=0)
        # Count only messages handed to the broker, so a dropped connection
        # does not show up as a gap in seq.
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.seq += 1

    def stop(self):
        self._stopping = True
        self._wake.set()

    def run(self, broker, port):
        # connect_async + loop_start: the network thread keeps retrying with
        # the backoff from reconnect_delay_set, also for the first connection.
        self.client.connect_async(broker, port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        try:
            self._report_loop()
        finally:
            self._shutdown()

    def _report_loop(self):
        next_due = time.monotonic()
        while True:
            self._wake.wait(max(0.0, next_due - time.monotonic()))
            self._wake.clear()
            if self._stopping:
                return
            now = time.monotonic()
            if now >= next_due:
                next_due += self.every
                if next_due <= now:  # fell behind (slow sensor, suspend): no burst
                    next_due = now + self.every
            if self.client.is_connected():
                self.publish_telemetry()

    def _shutdown(self):
        # A clean DISCONNECT suppresses the last will, so say "offline" first.
        if self.client.is_connected():
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.relay.close()
        self.climate.close()
        log.info("stopped")


def positive_seconds(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def parse_args():
    p = argparse.ArgumentParser(description="Publish a DHT22 and a relay in the twin mirror JSON format.")
    p.add_argument("--broker", default="127.0.0.1", help="MQTT broker host (default %(default)s)")
    p.add_argument("--port", type=int, default=1883, help="MQTT broker port (default %(default)s)")
    p.add_argument("--username", help="MQTT user name")
    p.add_argument(
        "--password",
        default=os.environ.get("TWIN_DEVICE_PASSWORD"),
        help="MQTT password (default: $TWIN_DEVICE_PASSWORD)",
    )
    p.add_argument("--device-id", default=socket.gethostname(), help="device id in the topics (default: host name)")
    p.add_argument("--dht-pin", type=int, default=4, help="DHT22 data pin, BCM number (default %(default)s)")
    p.add_argument("--relay-pin", type=int, default=17, help="relay pin, BCM number (default %(default)s)")
    p.add_argument("--relay-active-low", action="store_true", help="the relay module switches on when IN is low")
    p.add_argument("--every", type=positive_seconds, default=10.0, help="seconds between telemetry (default %(default)s)")
    p.add_argument("--prefix", default="sensors", help="topic prefix (default %(default)s)")
    p.add_argument("--fake", action="store_true", help="simulate the DHT22 and the relay (no GPIO needed)")
    return p.parse_args()


def main():
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.fake:
        climate, relay = FakeClimate(), FakeRelay()
    else:
        climate, relay = Dht22(args.dht_pin), gpio_relay(args.relay_pin, args.relay_active_low)
    device = Device(args, climate, relay)
    # Handle SIGINT like SIGTERM (systemd stop) so both publish "offline" first.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: device.stop())
    device.run(args.broker, args.port)


if __name__ == "__main__":
    main()
