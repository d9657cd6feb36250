// macvtap/macvlan operating modes, shared by the XML model and the netdev
// layer.  Values are our own; the netlink code maps them to MACVLAN_MODE_*.
#pragma once

namespace vd {

// Source exists in the kernel only; the domain XML, like libvirt's, accepts
// vepa, bridge, private and passthrough.
enum class MacvlanMode { Vepa, Bridge, Private, Passthrough, Source };

} // namespace vd
