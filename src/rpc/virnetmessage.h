// SPDX-License-Identifier: LGPL-2.1-or-later
// One packet of libvirt's RPC protocol: a 4-byte length (counting itself),
// a 24-byte header, then the XDR body.  Also the error body a failed call
// is answered with (virNetMessageError), so clients print the same
// "error: ..." line and see the same virterror code and domain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rpc/virxdr.h"

namespace vd {
class Error;
}

namespace vd::rpc {

// Limits the libvirt 9.0 client enforces; the server uses the same.
constexpr uint32_t MessageMax = 32 * 1024 * 1024;  // whole packet
constexpr uint32_t MessageLenSize = 4;
constexpr uint32_t MessageHeaderSize = 24;
constexpr uint32_t StringMax = 4 * 1024 * 1024;     // REMOTE_STRING_MAX

enum class MessageType : uint32_t {
    Call = 0,
    Reply = 1,
    Message = 2, // asynchronous: events, keepalive
    Stream = 3,
    CallWithFds = 4,
    ReplyWithFds = 5,
};

enum class MessageStatus : uint32_t {
    Ok = 0,
    Error = 1,
    Continue = 2,
};

struct MessageHeader {
    uint32_t prog = 0;
    uint32_t vers = 0;
    uint32_t proc = 0;
    MessageType type = MessageType::Call;
    uint32_t serial = 0;
    MessageStatus status = MessageStatus::Ok;
};

// Header fields as they came off the wire, without judging type/status
// (an unknown type must still be answerable with an error).
struct RawHeader {
    uint32_t prog, vers, proc, type, serial, status;
};
RawHeader decodeHeader(XdrDecoder &dec);

// A whole packet (length prefix included) carrying `body`.
std::string encodeMessage(const MessageHeader &hdr, std::string_view body);

// Bytes 0..3 of a packet: the total length it announces.  Throws when it
// is shorter than a header or longer than MessageMax.
uint32_t decodeLength(std::string_view lenBytes);

// The body of a REPLY with status ERROR for `err`.
std::string encodeErrorBody(const Error &err);

// Decoded error body (for tests and for the server's own checks).
struct WireError {
    int32_t code = 0;
    int32_t domain = 0;
    std::optional<std::string> message;
    int32_t level = 0;
};
WireError decodeErrorBody(std::string_view body);

} // namespace vd::rpc
