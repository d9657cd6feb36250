// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "rpc/virnetmessage.h"

#include "util/virerror.h"

namespace vd::rpc {

RawHeader decodeHeader(XdrDecoder &dec)
{
    RawHeader h{};
    h.prog = dec.getU32();
    h.vers = dec.getU32();
    h.proc = dec.getU32();
    h.type = dec.getU32();
    h.serial = dec.getU32();
    h.status = dec.getU32();
    return h;
}

std::string encodeMessage(const MessageHeader &hdr, std::string_view body)
{
    XdrEncoder enc;
    enc.putU32(0); // length, patched below
    enc.putU32(hdr.prog);
    enc.putU32(hdr.vers);
    enc.putU32(hdr.proc);
    enc.putU32(static_cast<uint32_t>(hdr.type));
    enc.putU32(hdr.serial);
    enc.putU32(static_cast<uint32_t>(hdr.status));
    std::string out = enc.take();
    out.append(body);
    if (out.size() > MessageMax)
        throw Error(VIR_ERR_RPC,
                    strprintf(_("packet of %zu bytes exceeds the maximum of %u"), out.size(),
                              MessageMax),
                    VIR_FROM_RPC);
    XdrEncoder len;
    len.putU32(static_cast<uint32_t>(out.size()));
    out.replace(0, 4, len.data());
    return out;
}

uint32_t decodeLength(std::string_view lenBytes)
{
    XdrDecoder dec(lenBytes);
    uint32_t len = dec.getU32();
    if (len < MessageLenSize + MessageHeaderSize || len > MessageMax)
        throw Error(VIR_ERR_RPC,
                    strprintf(_("packet length %u is outside %u..%u"), len,
                              MessageLenSize + MessageHeaderSize, MessageMax),
                    VIR_FROM_RPC);
    return len;
}

std::string encodeErrorBody(const Error &err)
{
    XdrEncoder enc;
    enc.putI32(err.code());
    enc.putI32(err.domain());
    std::string message = err.what();
    if (message.size() > StringMax)
        message.resize(StringMax);
    enc.putOptionalString(message, StringMax);
    enc.putI32(VIR_ERR_ERROR); // level
    enc.putBool(false);        // dom
    enc.putBool(false);        // str1
    enc.putBool(false);        // str2
    enc.putBool(false);        // str3
    enc.putI32(0);             // int1
    enc.putI32(0);             // int2
    enc.putBool(false);        // net
    return enc.take();
}

WireError decodeErrorBody(std::string_view body)
{
    XdrDecoder dec(body);
    WireError e;
    e.code = dec.getI32();
    e.domain = dec.getI32();
    e.message = dec.getOptionalString(StringMax);
    e.level = dec.getI32();
    return e;
}

} // namespace vd::rpc
