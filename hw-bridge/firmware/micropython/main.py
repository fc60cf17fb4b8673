"""twinfleet device firmware for MicroPython (ESP32, Raspberry Pi Pico W).

Reads a DHT22, drives a relay and speaks the generic JSON wire format that
`twin mirror` reads:

    <prefix>/<id>/telemetry  QoS 0       {"device_id":"pico-1","seq":42,
                                          "timestamp":1732871200.5,
                                          "temperature":21.4,"humidity":44.1,
                                          "relay":false}
    <prefix>/<id>/status     QoS 1, retained: "online"; last will "offline"
    <prefix>/<id>/cmd        {"set":{"relay":true}}, or on / off / toggle / 0 / 1

Settings come from config.py beside this file.
"""

import json
import time

import dht
import machine
import network
from ubinascii import hexlify
from umqtt.simple import MQTTClient

import config as cfg

try:
    import ntptime
except ImportError:
    ntptime = None

KEEPALIVE_S = 60
BACKOFF_MAX_S = 30
WIFI_TIMEOUT_MS = 20000
LOOP_SLEEP_MS = 50
NTP_EVERY_MS = 3600 * 1000
NTP_RETRY_MS = 60 * 1000
DHT22_MIN_INTERVAL_MS = 2000  # the sensor answers at most once every 2 s

# Ports built with the 2000-01-01 epoch count time.time() from there.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0

DEVICE_ID = cfg.DEVICE_ID or hexlify(machine.unique_id()).decode()
TOPIC_BASE = "%s/%s/" % (cfg.TOPIC_PREFIX, DEVICE_ID)
TELEMETRY_TOPIC = (TOPIC_BASE + "telemetry").encode()
STATUS_TOPIC = (TOPIC_BASE + "status").encode()
CMD_TOPIC = (TOPIC_BASE + "cmd").encode()

_wdt = None


def feed_watchdog():
    if _wdt:
        _wdt.feed()


def pause(ms):
    """Sleep for ms milliseconds, feeding the watchdog at least once a second."""
    while ms > 0:
        feed_watchdog()
        step = min(ms, 1000)
        time.sleep_ms(step)
        ms -= step
    feed_watchdog()


def unix_time():
    """Unix time with millisecond precision, as JSON number text.

    Built as text because MicroPython floats are single precision on these
    boards: a float would round a current Unix timestamp to steps of 128 s.
    """
    ms = time.time_ns() // 1000000 + EPOCH_OFFSET * 1000
    return "%d.%03d" % (ms // 1000, ms % 1000)


def sync_clock():
    """Set the RTC from NTP; returns whether it worked."""
    if ntptime is None:
        return False
    ntptime.host = getattr(cfg, "NTP_HOST", "pool.ntp.org")
    try:
        ntptime.settime()
    except OSError as e:
        print("NTP sync failed:", e)
        return False
    return True


def parse_command(payload, current):
    """The relay state a command asks for, or None if it is not understood.

    Accepts {"set":{"relay":X}} or a bare X, where X is true/false, 1/0 or
    "on"/"off"/"toggle".
    """
    try:
        text = payload.decode().strip()
    except ValueError:  # not UTF-8 (UnicodeError is a ValueError)
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


class Relay:
    def __init__(self, pin, active_low):
        self._active_low = active_low
        # Start switched off, also for active-low modules.
        self._pin = machine.Pin(pin, machine.Pin.OUT, value=self._level(False))
        self.on = False

    def _level(self, on):
        return 0 if on == self._active_low else 1

    def set(self, on):
        self._pin.value(self._level(on))
        self.on = on


class Climate:
    """DHT22 reader that never raises: a failed read gives (None, None)."""

    def __init__(self, pin):
        self._sensor = dht.DHT22(machine.Pin(pin))
        self._read_at = None
        self._last = (None, None)
        self.errors = 0

    def read(self):
        now = time.ticks_ms()
        # A report right after a command comes sooner than the sensor allows;
        # it gets the previous reading.
        if self._read_at is not None and time.ticks_diff(now, self._read_at) < DHT22_MIN_INTERVAL_MS:
            return self._last
        self._read_at = now
        try:
            self._sensor.measure()
            self._last = (self._sensor.temperature(), self._sensor.humidity())
        except Exception as e:  # OSError on a timeout, a plain Exception on a bad checksum
            print("DHT22 read failed:", e)
            self.errors += 1
            self._last = (None, None)
        return self._last


class Device:
    def __init__(self, relay, climate):
        self.relay = relay
        self.climate = climate
        self.seq = 0  # per boot, kept across reconnects
        self.report_pending = False
        self.last_sent = time.ticks_ms()

    def on_message(self, topic, msg):
        target = parse_command(msg, self.relay.on)
        if target is None:
            print("ignored command:", msg)
            return
        self.relay.set(target)
        print("relay ->", "on" if target else "off")
        # Report the new state at once: that is how the mirror's shadow sees
        # "reported" converge on "desired".
        self.report_pending = True

    def telemetry(self):
        temperature, humidity = self.climate.read()
        fields = [
            '"device_id":' + json.dumps(DEVICE_ID),
            '"seq":%d' % self.seq,
            '"timestamp":' + unix_time(),
        ]
        if temperature is not None:
            fields.append('"temperature":%.1f' % temperature)
            fields.append('"humidity":%.1f' % humidity)
        fields.append('"relay":' + ("true" if self.relay.on else "false"))
        if self.climate.errors:
            fields.append('"read_errors":%d' % self.climate.errors)
        return ("{" + ",".join(fields) + "}").encode()

    def publish_telemetry(self, client):
        client.publish(TELEMETRY_TOPIC, self.telemetry())
        self.seq += 1
        self.report_pending = False
        self.last_sent = time.ticks_ms()

    def start_session(self, client):
        client.connect()
        client.subscribe(CMD_TOPIC, qos=1)
        client.publish(STATUS_TOPIC, b"online", retain=True, qos=1)
        self.last_sent = time.ticks_ms()
        print("MQTT up as", DEVICE_ID)

    def serve(self, client, wlan):
        """Publish and handle commands until the link fails, which raises."""
        now = time.ticks_ms()
        next_report = now
        next_ntp = now
        while True:
            feed_watchdog()
            if not wlan.isconnected():
                raise OSError("Wi-Fi lost")
            client.check_msg()  # returns at once when nothing is waiting
            now = time.ticks_ms()
            if time.ticks_diff(now, next_ntp) >= 0:
                synced = sync_clock()
                next_ntp = time.ticks_add(now, NTP_EVERY_MS if synced else NTP_RETRY_MS)
            if time.ticks_diff(now, next_report) >= 0:
                next_report = time.ticks_add(now, int(cfg.PUBLISH_EVERY * 1000))
                self.report_pending = True
            if self.report_pending:
                self.publish_telemetry(client)
            elif time.ticks_diff(now, self.last_sent) >= KEEPALIVE_S * 500:
                # umqtt.simple sends no pings itself; without traffic the broker
                # would drop the session after 1.5 keepalives.
                client.ping()
                self.last_sent = now
            time.sleep_ms(LOOP_SLEEP_MS)


def connect_wifi(wlan):
    if wlan.isconnected():
        return
    wlan.active(True)
    wlan.connect(cfg.WIFI_SSID, cfg.WIFI_PASSWORD)
    deadline = time.ticks_add(time.ticks_ms(), WIFI_TIMEOUT_MS)
    while not wlan.isconnected():
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            # ESP32 refuses a new connect() while the old attempt is pending.
            wlan.disconnect()
            raise OSError("no Wi-Fi connection to %s" % cfg.WIFI_SSID)
        pause(250)
    print("Wi-Fi up:", wlan.ifconfig()[0])


def close_socket(client):
    # Drop the socket without an MQTT DISCONNECT, which would cancel the last
    # will; the broker publishes "offline" once it notices.
    if client.sock:
        try:
            client.sock.close()
        except OSError:
            pass
        client.sock = None


def main():
    global _wdt
    watchdog_ms = getattr(cfg, "WATCHDOG_MS", 0)
    if watchdog_ms and hasattr(machine, "WDT"):
        # Socket reads in umqtt.simple block without a timeout; if a dead link
        # ever hangs one, the watchdog resets the board.
        _wdt = machine.WDT(timeout=watchdog_ms)

    device = Device(
        Relay(cfg.RELAY_PIN, getattr(cfg, "RELAY_ACTIVE_LOW", False)),
        Climate(cfg.DHT_PIN),
    )
    user = getattr(cfg, "USER", "")
    client = MQTTClient(
        DEVICE_ID.encode(),
        cfg.BROKER,
        port=cfg.PORT,
        user=user.encode() if user else None,
        password=getattr(cfg, "PASSWORD", "").encode(),
        keepalive=KEEPALIVE_S,
    )
    client.set_last_will(STATUS_TOPIC, b"offline", retain=True, qos=1)
    client.set_callback(device.on_message)

    wlan = network.WLAN(network.STA_IF)
    backoff_s = 1
    while True:
        # Any failure ends the session, not only OSError: umqtt.simple reports a
        # refused login as MQTTException and a socket closed mid-packet as
        # IndexError or AssertionError.
        try:
            connect_wifi(wlan)
            device.start_session(client)
            backoff_s = 1
            device.serve(client, wlan)
        except Exception as e:
            print("link down (%r), retrying in %d s" % (e, backoff_s))
        close_socket(client)
        pause(backoff_s * 1000)
        backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)


main()
