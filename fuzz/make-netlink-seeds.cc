// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Writes the seed corpus of fuzz_netlink: the raw messages of one RTM_GETLINK
// dump, one file per link, plus the whole datagram sequence in one file.
// Run it inside a scratch network namespace holding the kinds of links
// virt-direct meets (see fuzz/README.md for the exact commands).
#include <config.h>

#include <linux/netlink.h>

#include <fstream>
#include <iostream>
#include <string>

#include "util/virnetlink.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::cerr << "usage: make-netlink-seeds DIR\n";
        return 2;
    }
    vd::NetlinkSocket sock;
    vd::NetlinkMsg msg(RTM_GETLINK, 0); // dump() adds the dump flags
    ifinfomsg ifi{};
    msg.append(&ifi, sizeof(ifi));
    std::string all;
    int n = 0;
    sock.dump(msg, [&](const nlmsghdr *hdr) {
        std::string raw(reinterpret_cast<const char *>(hdr), NLMSG_ALIGN(hdr->nlmsg_len));
        std::ofstream(std::string(argv[1]) + "/link-" + std::to_string(n++), std::ios::binary)
            << raw;
        all += raw;
    });
    std::ofstream(std::string(argv[1]) + "/dump", std::ios::binary) << all;
    std::cout << n << " messages\n";
    return 0;
}
