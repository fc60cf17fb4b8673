# Settings for main.py. Copy both files to the board:  mpremote cp config.py main.py :

# Wi-Fi (2.4 GHz only on ESP32 and Pico W).
WIFI_SSID = "your-ssid"
WIFI_PASSWORD = "your-wifi-password"

# MQTT broker. Leave USER empty for an anonymous broker.
BROKER = "192.168.1.10"
PORT = 1883
USER = ""
PASSWORD = ""

# Empty: derived from machine.unique_id() as hex, e.g. "e6614104036b4f2a".
# Must match the id in the twin mirror config.
DEVICE_ID = ""

# GPIO numbers. Pico W: GP15 / GP16 (pins 20 / 21). ESP32: e.g. 4 / 26; keep off
# the strapping pins 0, 2, 5, 12 and 15.
DHT_PIN = 15
RELAY_PIN = 16
# True for relay modules that switch on when IN is pulled low (most opto-isolated
# 1/2/4-channel boards).
RELAY_ACTIVE_LOW = False

# Seconds between telemetry messages (the DHT22 needs at least 2).
PUBLISH_EVERY = 10
TOPIC_PREFIX = "sensors"

# Hardware watchdog timeout in ms; 0 disables it. The Pico W allows at most
# 8388. Once started it cannot be stopped, so leave it at 0 while developing.
WATCHDOG_MS = 0

# NTP server used to set the clock, so that timestamps are real Unix time.
NTP_HOST = "pool.ntp.org"
