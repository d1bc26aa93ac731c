#!/usr/bin/python3
"""A JobViewServer for syncd-desktop's tests: owns org.kde.JobViewServer on the session bus,
hands out org.kde.JobViewV2 objects, and records every call made on them (and every
com.canonical.Unity.LauncherEntry Update signal) as one JSON line each in LOG.

With --cancel-on-progress it presses Cancel (emits cancelRequested) on a view the first time
that view is given a percentage above 0, as a user watching the bar would.

Usage: jobview-peer.py LOG [--cancel-on-progress]   (Debian: python3-dbus, python3-gi)
"""
import json
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
log = open(sys.argv[1], "a", buffering=1)
cancel_on_progress = "--cancel-on-progress" in sys.argv[2:]
VIEW = "org.kde.JobViewV2"


def plain(value):
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.Double, float)):
        return float(value)
    if isinstance(value, (int, dbus.Byte)):
        return int(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def record(path, member, *args):
    log.write(json.dumps({"path": path, "member": member, "args": [plain(a) for a in args]}) + "\n")


class JobView(dbus.service.Object):
    def __init__(self, bus, path):
        super().__init__(bus, path)
        self.path = path
        self.cancelled = False

    @dbus.service.method(VIEW, in_signature="s")
    def setInfoMessage(self, text):
        record(self.path, "setInfoMessage", text)

    @dbus.service.method(VIEW, in_signature="uss", out_signature="b")
    def setDescriptionField(self, number, name, value):
        record(self.path, "setDescriptionField", number, name, value)
        return True

    @dbus.service.method(VIEW, in_signature="u")
    def clearDescriptionField(self, number):
        record(self.path, "clearDescriptionField", number)

    @dbus.service.method(VIEW, in_signature="u")
    def setPercent(self, percent):
        record(self.path, "setPercent", percent)
        if cancel_on_progress and percent > 0 and not self.cancelled:
            self.cancelled = True
            GLib.idle_add(self.press_cancel)

    @dbus.service.method(VIEW, in_signature="ts")
    def setTotalAmount(self, amount, unit):
        record(self.path, "setTotalAmount", amount, unit)

    @dbus.service.method(VIEW, in_signature="ts")
    def setProcessedAmount(self, amount, unit):
        record(self.path, "setProcessedAmount", amount, unit)

    @dbus.service.method(VIEW, in_signature="t")
    def setSpeed(self, speed):
        record(self.path, "setSpeed", speed)

    @dbus.service.method(VIEW, in_signature="b")
    def setSuspended(self, suspended):
        record(self.path, "setSuspended", suspended)

    @dbus.service.method(VIEW, in_signature="s")
    def terminate(self, error_message):
        record(self.path, "terminate", error_message)
        self.remove_from_connection()

    @dbus.service.signal(VIEW)
    def cancelRequested(self):
        pass

    def press_cancel(self):
        record(self.path, "cancelRequested")
        self.cancelRequested()
        return False


class JobViewServer(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/JobViewServer")
        self.bus = bus
        self.views = 0

    @dbus.service.method("org.kde.JobViewServer", in_signature="ssi", out_signature="o")
    def requestView(self, app_name, icon, capabilities):
        self.views += 1
        path = "/JobViewServer/JobView_%d" % self.views
        JobView(self.bus, path)
        record("/JobViewServer", "requestView", app_name, icon, capabilities)
        return dbus.ObjectPath(path)


bus = dbus.SessionBus()
server = JobViewServer(bus)
name = dbus.service.BusName("org.kde.JobViewServer", bus)
bus.add_signal_receiver(
    lambda uri, properties, path=None: record(path, "Update", uri, properties),
    signal_name="Update", dbus_interface="com.canonical.Unity.LauncherEntry", path_keyword="path")
GLib.MainLoop().run()
