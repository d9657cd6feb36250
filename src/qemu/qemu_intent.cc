// SPDX-License-Identifier: LGPL-2.1-or-later
#include <config.h>

#include "qemu/qemu_intent.h"

#include <cerrno>

#include "util/virerror.h"
#include "util/virfault.h"
#include "util/virfile.h"
#include "util/virjson.h"

namespace vd::qemu {

namespace {

JsonValue processToJson(const ProcessId &p)
{
    return JsonValue::object({{"pid", static_cast<int64_t>(p.pid)},
                              {"starttime", static_cast<uint64_t>(p.startTime)}});
}

ProcessId processFromJson(const JsonValue &v)
{
    return ProcessId{static_cast<pid_t>(v.get("pid").asInt()),
                     static_cast<unsigned long long>(v.get("starttime").asUInt())};
}

JsonValue planToJson(const MacvtapPlan &plan)
{
    JsonValue names = JsonValue::array();
    for (const auto &n : plan.names)
        names.append(n);
    JsonValue macs = JsonValue::array();
    for (const auto &m : plan.parentMacs)
        macs.append(JsonValue::object({{"ifindex", static_cast<int64_t>(m.ifindex)},
                                       {"name", m.name},
                                       {"old", m.oldMac.str()},
                                       {"new", m.newMac.str()}}));
    return JsonValue::object({{"group", static_cast<uint64_t>(plan.group)},
                              {"names", std::move(names)},
                              {"parentMacs", std::move(macs)}});
}

MacAddr macFromJson(const JsonValue &v)
{
    auto mac = MacAddr::parse(v.asString());
    if (!mac)
        raiseInternal(strprintf(_("invalid MAC address '%s'"), v.asString().c_str()));
    return *mac;
}

MacvtapPlan planFromJson(const JsonValue &v)
{
    MacvtapPlan plan;
    plan.group = static_cast<uint32_t>(v.get("group").asUInt());
    for (const auto &n : v.get("names").asArray())
        plan.names.push_back(n.asString());
    for (const auto &m : v.get("parentMacs").asArray())
        plan.parentMacs.push_back({static_cast<int>(m.get("ifindex").asInt()),
                                   m.get("name").asString(), macFromJson(m.get("old")),
                                   macFromJson(m.get("new"))});
    return plan;
}

} // namespace

std::string StartIntent::format() const
{
    JsonValue js = JsonValue::object({{"name", name},
                                      {"owner", processToJson(owner)},
                                      {"macvtaps", planToJson(macvtaps)}});
    if (supervisor)
        js.set("supervisor", processToJson(*supervisor));
    return js.toString() + "\n";
}

StartIntent StartIntent::parse(const std::string &text)
{
    JsonValue js = JsonValue::parse(text);
    StartIntent in;
    in.name = js.get("name").asString();
    in.owner = processFromJson(js.get("owner"));
    if (const JsonValue *s = js.find("supervisor"))
        in.supervisor = processFromJson(*s);
    in.macvtaps = planFromJson(js.get("macvtaps"));
    return in;
}

std::string intentPath(const Paths &paths, const std::string &name)
{
    return paths.runDir + "/" + name + ".intent.json";
}

void writeIntent(const Paths &paths, const StartIntent &intent)
{
    faultPoint("intent-write");
    writeFileAtomic(intentPath(paths, intent.name), intent.format(), 0600);
}

std::optional<StartIntent> readIntent(const Paths &paths, const std::string &name)
{
    std::string text;
    try {
        text = readFile(intentPath(paths, name));
    } catch (const SystemError &e) {
        if (e.errnum() == ENOENT)
            return std::nullopt;
        throw;
    }
    try {
        return StartIntent::parse(text);
    } catch (const Error &) {
        StartIntent unknown;
        unknown.name = name;
        return unknown;
    }
}

} // namespace vd::qemu
