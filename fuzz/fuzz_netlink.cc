// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: netlink attribute parsing.  The input is a received
// datagram: walked message by message the way NetlinkSocket::receive does
// (NLMSG_OK/NLMSG_NEXT), each message handed to parseLinkMessage, the
// parser of every RTM_NEWLINK of a link dump.
#include <config.h>

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/virnetlink.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The kernel hands us an aligned buffer; keep the alignment.
    std::vector<uint32_t> buf((size + 3) / 4);
    if (size)
        std::memcpy(buf.data(), data, size);
    auto *hdr = reinterpret_cast<nlmsghdr *>(buf.data());
    int len = static_cast<int>(size);
    for (; NLMSG_OK(hdr, len); hdr = NLMSG_NEXT(hdr, len))
        vd::parseLinkMessage(hdr);
    return 0;
}
