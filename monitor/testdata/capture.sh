#!/bin/sh
# capture.sh DIR: copy the host files the monitor reads into DIR/proc and
# DIR/sys. Used once to build the fixture trees from this machine's real
# files; the edge-case trees are edited copies (see README in testdata).
set -eu
d=$1
mkdir -p "$d/proc/pressure" "$d/proc/net" "$d/sys/block" "$d/sys/devices/system/cpu"
for f in stat meminfo loadavg diskstats; do cat /proc/$f >"$d/proc/$f"; done
cat /proc/net/dev >"$d/proc/net/dev"
for r in cpu memory io; do cat /proc/pressure/$r >"$d/proc/pressure/$r"; done
for b in /sys/block/*; do mkdir -p "$d/sys/block/$(basename "$b")"; touch "$d/sys/block/$(basename "$b")/.keep"; done
for c in /sys/devices/system/cpu/cpu[0-9]*; do mkdir -p "$d/sys/devices/system/cpu/$(basename "$c")"; touch "$d/sys/devices/system/cpu/$(basename "$c")/.keep"; done
