#include <config.h>

#include "qemu/qemu_capabilities.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virjson.h"
#include "util/virxml.h"

namespace vd::qemu {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(QemuCapsFlag::Last)> flagNames{
    "qmp",          "device",     "netdev",         "netdev-json",  "blockdev",
    "chardev",      "machine",    "accel",          "nodefaults",   "no-user-config",
    "display-none", "vhost-net",  "virtio-net-host-mtu", "kvm",
};

// Bump when the cache format or the probe changes meaning.
constexpr int cacheFormat = 1;

std::string attrOf(const xmlNode *node, const char *name)
{
    return xml::prop(node, name).value_or("");
}

unsigned long long parseULL(const std::string &s, const std::string &what)
{
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || errno || *end)
        raiseInternal(strprintf(_("malformed QEMU capabilities in %s: bad number '%s'"),
                                what.c_str(), s.c_str()));
    return v;
}

} // namespace

std::string_view toString(QemuCapsFlag f) { return flagNames.at(static_cast<size_t>(f)); }

std::optional<QemuCapsFlag> qemuCapsFlagFromString(std::string_view s)
{
    for (size_t i = 0; i < flagNames.size(); ++i)
        if (flagNames[i] == s)
            return static_cast<QemuCapsFlag>(i);
    return std::nullopt;
}

std::string QemuCaps::versionString() const
{
    return strprintf("%u.%u.%u", version / 1000000, version / 1000 % 1000, version % 1000);
}

const QemuMachine *QemuCaps::findMachine(const std::string &name) const
{
    for (const auto &m : machines)
        if (m.name == name || (!m.alias.empty() && m.alias == name))
            return &m;
    return nullptr;
}

std::string QemuCaps::defaultMachine() const
{
    for (const auto &m : machines)
        if (m.isDefault)
            return m.alias.empty() ? m.name : m.alias;
    return {};
}

std::string QemuCaps::toXML() const
{
    std::string x = strprintf("<qemuCaps format='%d'>\n", cacheFormat);
    x += "  <emulator path='" + xml::escape(binary) + "' size='" + std::to_string(binarySize) +
         "' mtimeNs='" + std::to_string(binaryMtimeNs) + "' vdVersion='" PACKAGE_VERSION "'/>\n";
    x += "  <version value='" + versionString() + "' package='" + xml::escape(package) + "'/>\n";
    x += "  <arch name='" + xml::escape(arch) + "'/>\n";
    for (auto f : flags)
        x += "  <flag name='" + std::string(toString(f)) + "'/>\n";
    for (const auto &m : machines) {
        x += "  <machine name='" + xml::escape(m.name) + "'";
        if (!m.alias.empty())
            x += " alias='" + xml::escape(m.alias) + "'";
        if (m.isDefault)
            x += " default='yes'";
        x += "/>\n";
    }
    for (const auto &n : netdevTypes)
        x += "  <netdev name='" + xml::escape(n) + "'/>\n";
    for (const auto &d : deviceTypes)
        x += "  <device name='" + xml::escape(d) + "'/>\n";
    x += "</qemuCaps>\n";
    return x;
}

QemuCaps QemuCaps::fromXML(const std::string &xml, const std::string &what)
{
    xml::DocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), what.c_str(), nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                    XML_PARSE_NOWARNING));
    xmlNode *root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
    if (!root || xml::name(root) != "qemuCaps")
        raiseInternal(strprintf(_("malformed QEMU capabilities in %s: no <qemuCaps> root"),
                                what.c_str()));
    if (attrOf(root, "format") != std::to_string(cacheFormat))
        raiseInternal(strprintf(_("malformed QEMU capabilities in %s: unknown format '%s'"),
                                what.c_str(), attrOf(root, "format").c_str()));
    QemuCaps caps;
    for (xmlNode *n : xml::children(root)) {
        if (xml::name(n) == "emulator") {
            caps.binary = attrOf(n, "path");
            caps.binarySize = parseULL(attrOf(n, "size"), what);
            caps.binaryMtimeNs = static_cast<long long>(parseULL(attrOf(n, "mtimeNs"), what));
        } else if (xml::name(n) == "version") {
            unsigned a = 0, b = 0, c = 0;
            std::string v = attrOf(n, "value");
            if (std::sscanf(v.c_str(), "%u.%u.%u", &a, &b, &c) != 3)
                raiseInternal(strprintf(_("malformed QEMU capabilities in %s: bad version '%s'"),
                                        what.c_str(), v.c_str()));
            caps.version = a * 1000000 + b * 1000 + c;
            caps.package = attrOf(n, "package");
        } else if (xml::name(n) == "arch") {
            caps.arch = attrOf(n, "name");
        } else if (xml::name(n) == "flag") {
            std::string name = attrOf(n, "name");
            auto f = qemuCapsFlagFromString(name);
            // Unknown flags come from a newer format: treat the entry as stale.
            if (!f)
                raiseInternal(strprintf(_("malformed QEMU capabilities in %s: unknown flag '%s'"),
                                        what.c_str(), name.c_str()));
            caps.flags.insert(*f);
        } else if (xml::name(n) == "machine") {
            caps.machines.push_back(
                {attrOf(n, "name"), attrOf(n, "alias"), attrOf(n, "default") == "yes"});
        } else if (xml::name(n) == "netdev") {
            caps.netdevTypes.insert(attrOf(n, "name"));
        } else if (xml::name(n) == "device") {
            caps.deviceTypes.insert(attrOf(n, "name"));
        }
    }
    if (caps.version == 0)
        raiseInternal(strprintf(_("malformed QEMU capabilities in %s: no version"), what.c_str()));
    return caps;
}

QemuCaps QemuCaps::fromFile(const std::string &path)
{
    return fromXML(readFile(path), path);
}

std::string findEmulator(const std::string &emulator, const std::string &arch)
{
    if (!emulator.empty()) {
        if (emulator.front() != '/')
            raiseUnsupported(strprintf(_("emulator '%s' must be an absolute path"),
                                       emulator.c_str()));
        if (access(emulator.c_str(), X_OK) < 0)
            raiseSystem(errno, strprintf(_("Cannot check QEMU binary %s"), emulator.c_str()));
        return emulator;
    }
    std::string name = "qemu-system-" + (arch.empty() ? std::string("x86_64") : arch);
    const char *env = std::getenv("PATH");
    std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos)
            end = path.size();
        std::string dir = path.substr(start, end - start);
        if (!dir.empty() && dir.front() == '/') {
            std::string candidate = dir + "/" + name;
            struct stat st;
            if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                access(candidate.c_str(), X_OK) == 0)
                return candidate;
        }
        start = end + 1;
    }
    raiseUnsupported(strprintf(_("no emulator found: %s is not on PATH; set <emulator>"),
                               name.c_str()));
}

// ---------------------------------------------------------------------------
// Probing

namespace {

// A probe child: killed by PID and reaped if we leave early.
class ProbeChild {
public:
    ProbeChild() = default;
    ProbeChild(const ProbeChild &) = delete;
    ProbeChild &operator=(const ProbeChild &) = delete;
    ~ProbeChild()
    {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            int st;
            while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
            }
        }
    }
    void start(const std::vector<std::string> &argv, int stdinFd, int stdoutFd, int stderrFd)
    {
        // Everything the child needs is prepared before fork: after fork only
        // async-signal-safe calls are allowed (we may be multi-threaded).
        std::vector<char *> cargv;
        for (const auto &a : argv)
            cargv.push_back(const_cast<char *>(a.c_str()));
        cargv.push_back(nullptr);
        const char *envp[] = {"LC_ALL=C", "PATH=/usr/local/bin:/usr/bin:/bin", nullptr};
        pid_t pid = fork();
        if (pid < 0)
            raiseSystem(errno, _("cannot fork QEMU probe"));
        if (pid == 0) {
            // Move the pipe ends above 2 first: when we were started with
            // stdio closed they may BE fds 0-2, and dup2 onto itself would
            // neither clear close-on-exec nor keep one from clobbering another.
            int src[3] = {stdinFd, stdoutFd, stderrFd};
            for (int &fd : src)
                if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
                    _exit(127);
            for (int i = 0; i < 3; ++i)
                if (dup2(src[i], i) < 0) // clears close-on-exec on the copy
                    _exit(127);
            syscall(SYS_close_range, 3U, ~0U, 0U);
            sigset_t all;
            sigemptyset(&all);
            sigprocmask(SIG_SETMASK, &all, nullptr);
            execve(cargv[0], cargv.data(), const_cast<char *const *>(envp));
            _exit(127);
        }
        pid_ = pid;
    }
    // Reap; returns the wait status.
    int wait()
    {
        int st = 0;
        while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return st;
    }

private:
    pid_t pid_ = -1;
};

struct ProbeRun {
    int status = 0;
    std::string out, err;
    bool timedOut = false;
};

// Write all of `data` (small: QMP commands); a QEMU that died early closes
// the pipe, which must give EPIPE, not SIGPIPE.
void writeAll(int fd, const std::string &data)
{
    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &previous);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += static_cast<size_t>(n);
    }
    sigaction(SIGPIPE, &previous, nullptr);
}

// Run argv with `input` on stdin and collect stdout/stderr until both close
// or the deadline passes.  When `finished` says the output is complete,
// `last` (e.g. QMP "quit") is written and stdin closed.  QEMU must not get
// "quit" together with the other commands: it may exit before it flushed a
// long reply that did not fit in the pipe, truncating it.
ProbeRun runProbe(const std::vector<std::string> &argv, const std::string &input,
                  const std::function<bool(const std::string &)> &finished = nullptr,
                  const std::string &last = {})
{
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd inR(in[0]), inW(in[1]);
    if (pipe2(out, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd outR(out[0]), outW(out[1]);
    if (pipe2(err, O_CLOEXEC) < 0)
        raiseSystem(errno, _("cannot create pipe"));
    UniqueFd errR(err[0]), errW(err[1]);

    ProbeChild child;
    child.start(argv, inR.get(), outW.get(), errW.get());
    inR.reset();
    outW.reset();
    errW.reset();

    writeAll(inW.get(), input);
    if (!finished) {
        writeAll(inW.get(), last);
        inW.reset();
    }

    ProbeRun r;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool outOpen = true, errOpen = true;
    char buf[65536];
    while (outOpen || errOpen) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            r.timedOut = true;
            break;
        }
        struct pollfd pfd[2] = {{outOpen ? outR.get() : -1, POLLIN, 0},
                                {errOpen ? errR.get() : -1, POLLIN, 0}};
        int n = poll(pfd, 2, static_cast<int>(left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            raiseSystem(errno, _("cannot poll QEMU probe"));
        for (int i = 0; i < 2; ++i) {
            if (!pfd[i].revents)
                continue;
            ssize_t got = read(pfd[i].fd, buf, sizeof(buf));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                (i == 0 ? outOpen : errOpen) = false;
                continue;
            }
            (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
            if (i == 0 && inW && finished(r.out)) {
                writeAll(inW.get(), last);
                inW.reset();
            }
        }
    }
    inW.reset();
    if (r.timedOut)
        return r; // ProbeChild kills and reaps
    r.status = child.wait();
    return r;
}

std::string firstLine(const std::string &s)
{
    std::string line = s.substr(0, s.find('\n'));
    return line.empty() ? std::string(_("no output")) : line;
}

// QEMU's answers by command id; events and the greeting are dropped.
std::map<std::string, JsonValue> parseQmpReplies(const std::string &out, JsonValue &greeting)
{
    std::map<std::string, JsonValue> replies;
    size_t pos = 0;
    while (pos < out.size()) {
        size_t nl = out.find('\n', pos);
        if (nl == std::string::npos)
            nl = out.size();
        std::string line = out.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.find_first_not_of(" \r\t") == std::string::npos)
            continue;
        JsonValue v = JsonValue::parse(line);
        if (!v.isObject())
            continue;
        if (v.has("QMP"))
            greeting = v;
        else if (const JsonValue *id = v.find("id"); id && id->isString())
            replies[id->asString()] = v;
    }
    return replies;
}

const JsonValue *qmpReturn(const std::map<std::string, JsonValue> &replies, const char *id)
{
    auto it = replies.find(id);
    if (it == replies.end())
        return nullptr;
    return it->second.find("return");
}

// The netdev backend types from netdev_add's argument type in the QAPI
// schema (a union whose variants are the backend types).
void netdevTypesFromSchema(const JsonValue &schema, std::set<std::string> &out)
{
    if (!schema.isArray())
        return;
    std::map<std::string, const JsonValue *> byName;
    std::string argType;
    for (const auto &e : schema.asArray()) {
        const JsonValue *name = e.find("name");
        if (!name || !name->isString())
            continue;
        byName[name->asString()] = &e;
        const JsonValue *mt = e.find("meta-type");
        if (mt && mt->isString() && mt->asString() == "command" &&
            name->asString() == "netdev_add") {
            if (const JsonValue *at = e.find("arg-type"); at && at->isString())
                argType = at->asString();
        }
    }
    auto it = byName.find(argType);
    if (it == byName.end())
        return;
    const JsonValue *variants = it->second->find("variants");
    if (!variants || !variants->isArray())
        return;
    for (const auto &v : variants->asArray())
        if (const JsonValue *c = v.find("case"); c && c->isString())
            out.insert(c->asString());
}

void setVersion(QemuCaps &caps, const JsonValue &ver)
{
    const JsonValue *q = ver.find("qemu");
    if (!q)
        return;
    caps.version = static_cast<unsigned>(q->get("major").asUInt() * 1000000 +
                                         q->get("minor").asUInt() * 1000 +
                                         q->get("micro").asUInt());
    if (const JsonValue *p = ver.find("package"); p && p->isString())
        caps.package = p->asString();
}

// The QMP probe.  Returns false when QEMU did not start with these options
// (e.g. it does not understand a JSON -netdev), with QEMU's message in `err`.
bool probeQmp(const std::string &binary, bool tryNetdevJson, QemuCaps &caps, std::string &err)
{
    std::vector<std::string> argv{binary, "-machine", "none", "-nodefaults", "-no-user-config",
                                  "-display", "none", "-S", "-qmp", "stdio"};
    if (tryNetdevJson) {
        // If QEMU starts with this, -netdev takes JSON.  A hub port needs no
        // host resources, so the probe creates nothing.
        argv.push_back("-netdev");
        argv.push_back(R"({"type":"hubport","id":"vdprobe0","hubid":0})");
    }
    std::string input =
        R"({"execute":"qmp_capabilities","id":"caps"})" "\n"
        R"({"execute":"query-version","id":"version"})" "\n"
        R"({"execute":"qom-list-types","arguments":{"implements":"device","abstract":false},"id":"devices"})" "\n"
        R"({"execute":"query-machines","id":"machines"})" "\n"
        R"({"execute":"device-list-properties","arguments":{"typename":"virtio-net-pci"},"id":"virtio-net"})" "\n"
        R"({"execute":"query-qmp-schema","id":"schema"})" "\n"
        R"({"execute":"query-kvm","id":"kvm"})" "\n";
    // Replies come in order: the reply to the last command (success or
    // error) ends the exchange.
    auto finished = [](const std::string &out) {
        size_t end = out.find_last_not_of("\r\n");
        if (end == std::string::npos || end + 1 == out.size())
            return false; // no complete line yet
        size_t start = out.rfind('\n', end);
        start = start == std::string::npos ? 0 : start + 1;
        try {
            JsonValue v = JsonValue::parse(std::string_view(out).substr(start, end + 1 - start));
            const JsonValue *id = v.isObject() ? v.find("id") : nullptr;
            return id && id->isString() && id->asString() == "kvm";
        } catch (const Error &) {
            return false;
        }
    };
    ProbeRun r = runProbe(argv, input, finished, R"({"execute":"quit","id":"quit"})" "\n");
    if (r.timedOut)
        raiseInternal(strprintf(_("QEMU %s did not answer the capability probe in time"),
                                binary.c_str()));
    JsonValue greeting;
    auto replies = parseQmpReplies(r.out, greeting);
    if (greeting.isNull() || !qmpReturn(replies, "version")) {
        err = firstLine(r.err);
        return false;
    }

    setVersion(caps, *qmpReturn(replies, "version"));
    if (const JsonValue *d = qmpReturn(replies, "devices"); d && d->isArray())
        for (const auto &t : d->asArray())
            if (const JsonValue *n = t.find("name"); n && n->isString())
                caps.deviceTypes.insert(n->asString());
    if (const JsonValue *m = qmpReturn(replies, "machines"); m && m->isArray()) {
        for (const auto &t : m->asArray()) {
            QemuMachine qm;
            qm.name = t.get("name").asString();
            if (const JsonValue *a = t.find("alias"); a && a->isString())
                qm.alias = a->asString();
            if (const JsonValue *d = t.find("is-default"); d && d->isBool())
                qm.isDefault = d->asBool();
            if (qm.name != "none")
                caps.machines.push_back(qm);
        }
        std::sort(caps.machines.begin(), caps.machines.end(),
                  [](const QemuMachine &a, const QemuMachine &b) { return a.name < b.name; });
    }
    if (const JsonValue *p = qmpReturn(replies, "virtio-net"); p && p->isArray())
        for (const auto &prop : p->asArray())
            if (const JsonValue *n = prop.find("name"); n && n->isString() &&
                                                        n->asString() == "host_mtu")
                caps.set(QemuCapsFlag::HostMtu);
    if (const JsonValue *s = qmpReturn(replies, "schema"))
        netdevTypesFromSchema(*s, caps.netdevTypes);
    if (caps.netdevTypes.empty()) // older schemas hide the union
        caps.netdevTypes = {"tap", "user", "hubport", "socket"};
    if (const JsonValue *k = qmpReturn(replies, "kvm"); k && k->isObject())
        if (const JsonValue *pr = k->find("present"); pr && pr->isBool() && pr->asBool())
            caps.set(QemuCapsFlag::Kvm);

    // What a QEMU that speaks QMP and took our probe options certainly has.
    for (auto f : {QemuCapsFlag::Qmp, QemuCapsFlag::Device, QemuCapsFlag::Netdev,
                   QemuCapsFlag::Chardev, QemuCapsFlag::Machine, QemuCapsFlag::NoDefaults,
                   QemuCapsFlag::NoUserConfig, QemuCapsFlag::DisplayNone,
                   QemuCapsFlag::VhostNet})
        caps.set(f);
    caps.set(QemuCapsFlag::NetdevJson, tryNetdevJson);
    // -blockdev and -accel exist since QEMU 2.9 / 2.12 respectively; their
    // QMP counterparts prove it where the schema is available.
    caps.set(QemuCapsFlag::Blockdev, caps.version >= 2009000);
    caps.set(QemuCapsFlag::Accel, caps.version >= 2012000);
    return true;
}

// Emulators older than QMP: learn what we can from -version and -help.
void probeHelp(const std::string &binary, QemuCaps &caps)
{
    ProbeRun v = runProbe({binary, "-version"}, "");
    unsigned a = 0, b = 0, c = 0;
    size_t at = v.out.find("version ");
    if (v.timedOut || at == std::string::npos ||
        std::sscanf(v.out.c_str() + at + 8, "%u.%u.%u", &a, &b, &c) < 2)
        raiseInternal(strprintf(_("cannot determine the version of QEMU %s: %s"), binary.c_str(),
                                firstLine(v.err.empty() ? v.out : v.err).c_str()));
    caps.version = a * 1000000 + b * 1000 + c;
    ProbeRun h = runProbe({binary, "-help"}, "");
    auto has = [&](const char *opt) {
        return h.out.find(std::string("\n") + opt + " ") != std::string::npos ||
               h.out.find(std::string("\n") + opt + "\n") != std::string::npos;
    };
    caps.set(QemuCapsFlag::Device, has("-device"));
    caps.set(QemuCapsFlag::Netdev, has("-netdev"));
    caps.set(QemuCapsFlag::Blockdev, has("-blockdev"));
    caps.set(QemuCapsFlag::Chardev, has("-chardev"));
    caps.set(QemuCapsFlag::Machine, has("-machine"));
    caps.set(QemuCapsFlag::Accel, has("-accel"));
    caps.set(QemuCapsFlag::NoDefaults, has("-nodefaults"));
    caps.set(QemuCapsFlag::NoUserConfig, has("-no-user-config"));
    caps.set(QemuCapsFlag::DisplayNone, has("-display"));
    caps.set(QemuCapsFlag::Kvm, has("-enable-kvm"));
    // Legacy NIC models by their -net nic names.
    caps.deviceTypes = {"virtio", "e1000", "rtl8139", "ne2k_pci", "pcnet"};
    caps.netdevTypes = {"tap", "user"};
    caps.machines = {{"pc", "", true}};
}

} // namespace

QemuCaps probeQemuCaps(const std::string &binary)
{
    struct stat st;
    if (stat(binary.c_str(), &st) < 0)
        raiseSystem(errno, strprintf(_("Cannot check QEMU binary %s"), binary.c_str()));
    QemuCaps caps;
    caps.binary = binary;
    caps.binarySize = static_cast<unsigned long long>(st.st_size);
    caps.binaryMtimeNs = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                         st.st_mtim.tv_nsec;
    std::string base = binary.substr(binary.rfind('/') + 1);
    if (base.rfind("qemu-system-", 0) == 0)
        caps.arch = base.substr(12);

    std::string err;
    if (probeQmp(binary, true, caps, err))
        return caps;
    QemuCaps plain = caps;
    std::string err2;
    if (probeQmp(binary, false, plain, err2))
        return plain;
    // No QMP at all (or a QEMU that does not start): ask -help.
    try {
        probeHelp(binary, caps);
    } catch (const Error &) {
        raiseInternal(strprintf(_("Failed to probe capabilities for %s: %s"), binary.c_str(),
                                err2.c_str()));
    }
    return caps;
}

QemuCapsCache::QemuCapsCache(const vd::Paths &paths) : dir_(paths.cacheDir + "/capabilities") {}

std::string QemuCapsCache::entryPath(const std::string &binary) const
{
    // One file per binary path; the name is a readable, collision-free
    // transliteration of the path.
    std::string name;
    for (char c : binary) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')
            name += c;
        else
            name += strprintf("_%02x", static_cast<unsigned char>(c));
    }
    return dir_ + "/" + name + ".xml";
}

QemuCaps QemuCapsCache::get(const std::string &binary)
{
    struct stat st;
    if (stat(binary.c_str(), &st) < 0)
        raiseSystem(errno, strprintf(_("Cannot check QEMU binary %s"), binary.c_str()));
    long long mtimeNs = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                        st.st_mtim.tv_nsec;
    std::string path = entryPath(binary);
    if (access(path.c_str(), F_OK) == 0) {
        try {
            std::string xml = readFile(path);
            QemuCaps caps = QemuCaps::fromXML(xml, path);
            bool sameProgram = xml.find("vdVersion='" PACKAGE_VERSION "'") != std::string::npos;
            if (sameProgram && caps.binary == binary &&
                caps.binarySize == static_cast<unsigned long long>(st.st_size) &&
                caps.binaryMtimeNs == mtimeNs)
                return caps;
        } catch (const Error &) {
            // A damaged or foreign entry is simply replaced.
        }
    }
    QemuCaps caps = probeQemuCaps(binary);
    ++probes_;
    makePath(dir_, 0755);
    writeFileAtomic(path, caps.toXML(), 0644);
    return caps;
}

} // namespace vd::qemu
