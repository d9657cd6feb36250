# A python3-libvirt client driving `virt-direct serve`: the calls an
# orchestrator makes.  Usage: pyclient.py URI DOMAIN_XML_FILE
import re
import sys
import threading
import time

import libvirt

uri, xml_path = sys.argv[1], sys.argv[2]
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # no stderr noise

libvirt.virEventRegisterDefaultImpl()  # before open: events need the loop
conn = libvirt.open(uri)
events = []
def lifecycle(conn, dom, event, detail, opaque):
    events.append((dom.name(), event, detail))
callback = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                       lifecycle, None)
running = True
def loop():
    while running:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
print("type:", conn.getType())
print("lib version:", conn.getLibVersion())
print("alive:", conn.isAlive(), "secure:", conn.isSecure())
print("domains before:", [d.name() for d in conn.listAllDomains()])

dom = conn.defineXML(open(xml_path).read())
print("defined:", dom.name(), "id", dom.ID(), "active", dom.isActive(),
      "persistent", dom.isPersistent())
print("state:", dom.state())
dom.create()
print("started: id", dom.ID(), "state", dom.state())
info = dom.info()
print("info: state", info[0], "maxmem", info[1], "mem", info[2], "vcpus", info[3])
print("listAllDomains:", [(d.name(), d.ID()) for d in conn.listAllDomains()])
print("active only:", [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)])
print("by uuid:", conn.lookupByUUIDString(dom.UUIDString()).name())
print("by id:", conn.lookupByID(dom.ID()).name())

xml = dom.XMLDesc()
dev = re.search(r"<target dev='([^']+)'/>", xml).group(1)
print("live target:", dev)
stats = dom.interfaceStats(dev)
print("interfaceStats fields:", len(stats), "all >= 0:", all(v >= 0 for v in stats))
print("inactive XML has target:", "<target dev=" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

for lookup in (lambda: conn.lookupByName("nosuch"),
               lambda: conn.lookupByUUIDString("00000000-0000-0000-0000-000000000001"),
               lambda: conn.lookupByID(4242)):
    try:
        lookup()
        print("lookup of a missing domain succeeded?!")
    except libvirt.libvirtError as e:
        print("missing:", e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, str(e))

try:
    dom.create()
except libvirt.libvirtError as e:
    print("second create:", e.get_error_code(), str(e))

dom.destroy()
print("destroyed: state", dom.state(), "active", dom.isActive())
dom.undefine()
print("domains after:", [d.name() for d in conn.listAllDomains()])

# defined, started, stopped (destroyed), undefined -- in that order.
deadline = time.time() + 60
while len(events) < 4 and time.time() < deadline:
    time.sleep(0.05)
names = {libvirt.VIR_DOMAIN_EVENT_DEFINED: "defined", libvirt.VIR_DOMAIN_EVENT_UNDEFINED: "undefined",
         libvirt.VIR_DOMAIN_EVENT_STARTED: "started", libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped"}
for name, event, detail in events:
    print("event:", name, names.get(event, event), detail)
conn.domainEventDeregisterAny(callback)
running = False
conn.close()
