#include <config.h>

#include "util/virnetdevnamepool.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "util/virerror.h"

namespace vd {

// ---- NamePool ------------------------------------------------------------

size_t NamePool::maxIdsFor(const std::string &prefix)
{
    // IFNAMSIZ counts the terminating NUL.
    size_t digits = prefix.size() < IFNAMSIZ - 1 ? IFNAMSIZ - 1 - prefix.size() : 0;
    size_t n = 1;
    for (size_t i = 0; i < digits && i < 18; ++i)
        n *= 10;
    return digits ? n : 0;
}

NamePool::NamePool(std::string prefix, size_t limit)
    : prefix_(std::move(prefix)), limit_(maxIdsFor(prefix_))
{
    if (limit && limit < limit_)
        limit_ = limit;
}

std::optional<size_t> NamePool::idOf(const std::string &name) const
{
    if (name.size() <= prefix_.size() || name.compare(0, prefix_.size(), prefix_) != 0)
        return std::nullopt;
    size_t id = 0;
    const size_t start = prefix_.size();
    // "macvtap07" is not a name we would generate, so it does not collide.
    if (name[start] == '0' && name.size() > start + 1)
        return std::nullopt;
    for (size_t i = start; i < name.size(); ++i) {
        char c = name[i];
        if (c < '0' || c > '9')
            return std::nullopt;
        id = id * 10 + static_cast<size_t>(c - '0');
        if (id >= limit_)
            return std::nullopt;
    }
    return id;
}

std::string NamePool::nameOf(size_t id) const { return prefix_ + std::to_string(id); }

void NamePool::markTaken(size_t id)
{
    if (id < limit_)
        taken_.set(id);
}

bool NamePool::markTaken(const std::string &name)
{
    auto id = idOf(name);
    if (!id)
        return false;
    markTaken(*id);
    return true;
}

std::optional<size_t> NamePool::findFreeFrom(size_t from, size_t end) const
{
    if (from >= end)
        return std::nullopt;
    // Bits beyond the bitmap's size are free by definition.
    auto c = taken_.nextClear(from);
    size_t candidate = c ? *c : std::max(from, taken_.size());
    return candidate < end ? std::optional<size_t>(candidate) : std::nullopt;
}

std::optional<size_t> NamePool::allocate()
{
    if (limit_ == 0)
        return std::nullopt;
    auto id = findFreeFrom(cursor_, limit_);
    if (!id)
        id = findFreeFrom(0, cursor_); // wrap around once
    if (!id)
        return std::nullopt;
    taken_.set(*id);
    cursor_ = *id + 1 < limit_ ? *id + 1 : 0;
    return id;
}

std::optional<std::string> NamePool::allocateName()
{
    auto id = allocate();
    if (!id)
        return std::nullopt;
    return nameOf(*id);
}

// ---- NetdevNameState -----------------------------------------------------

NetdevNameState::NetdevNameState(std::string dir) : dir_(std::move(dir)) {}

static const char kStateFile[] = "names";
static const char kLockFile[] = "names.lock";

static void parseState(const std::string &text, NetdevNameState::Data &d)
{
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        std::string kw;
        ls >> kw;
        if (kw == "cursor") {
            std::string prefix;
            size_t v = 0;
            if (ls >> prefix >> v)
                d.cursors[prefix] = v;
        } else if (kw == "group-cursor") {
            uint32_t v = 0;
            if (ls >> v)
                d.nextGroup = v;
        } else if (kw == "group" || kw == "name") {
            // "group <id> <owner...>" / "name <ifname> <owner...>": the owner
            // is the rest of the line, so it may contain spaces.
            std::string value;
            ls >> value;
            std::string owner;
            std::getline(ls, owner);
            if (!owner.empty() && owner[0] == ' ')
                owner.erase(0, 1);
            if (owner.empty() || value.empty())
                continue;
            if (kw == "group")
                d.owners[owner].group = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
            else
                d.owners[owner].names.insert(value);
        }
    }
}

static std::string formatState(const NetdevNameState::Data &d)
{
    std::ostringstream out;
    out << "# virt-direct netdev name reservations; edited under names.lock\n";
    for (const auto &[prefix, c] : d.cursors)
        out << "cursor " << prefix << ' ' << c << '\n';
    out << "group-cursor " << d.nextGroup << '\n';
    for (const auto &[owner, o] : d.owners) {
        if (o.group)
            out << "group " << o.group << ' ' << owner << '\n';
        for (const auto &n : o.names)
            out << "name " << n << ' ' << owner << '\n';
    }
    return out.str();
}

NetdevNameState::Locked NetdevNameState::lock() const
{
    makePath(dir_, 0700);
    std::string lockPath = dir_ + "/" + kLockFile;
    UniqueFd fd(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd)
        raiseSystem(errno, strprintf(_("cannot open lock file '%s'"), lockPath.c_str()));
    while (::flock(fd.get(), LOCK_EX) < 0) {
        if (errno != EINTR)
            raiseSystem(errno, strprintf(_("cannot lock '%s'"), lockPath.c_str()));
    }
    Locked l(dir_ + "/" + kStateFile, std::move(fd));
    // A temporary of a holder that was killed while saving: only the lock
    // holder writes it, so it is garbage now.
    ::unlink((l.path_ + ".new").c_str());
    if (::access(l.path_.c_str(), F_OK) == 0)
        parseState(readFile(l.path_), l.data);
    return l;
}

static bool writeAll(int fd, const std::string &contents)
{
    size_t off = 0;
    while (off < contents.size()) {
        ssize_t n = ::pwrite(fd, contents.data() + off, contents.size() - off,
                             static_cast<off_t>(off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

// The disk is full and the new contents are no longer than the file: write
// them over the old ones, padded to the old length with a comment, in ONE
// pwrite that needs no new blocks.  Releasing names must work on a full
// disk, or a failed start would keep them for good.  A crash cannot leave a
// mix of old and new lines: the padding hides the old tail.
static bool rewriteInPlace(const std::string &path, const std::string &contents)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    size_t old = static_cast<size_t>(st.st_size);
    if (contents.size() > old)
        return false;
    std::string padded = contents;
    if (old - contents.size() == 1)
        padded += "\n"; // an empty line is skipped like a comment
    else if (old > contents.size())
        padded += "#" + std::string(old - contents.size() - 2, ' ') + "\n";
    return writeAll(fd.get(), padded);
}

// Atomic replacement by rename(), without fsync: the state lives in the
// run directory (tmpfs, gone at reboot anyway), so only crashes of a
// process matter, and against those rename() alone is atomic.  Skipping
// the syncs keeps a domain start from waiting on the disk.
static void replaceFile(const std::string &path, const std::string &contents)
{
    std::string tmp = path + ".new";
    int err = 0;
    const char *failed = nullptr;
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) {
            err = errno;
            failed = _("cannot create '%s'");
        } else if (!writeAll(fd.get(), contents)) {
            err = errno ? errno : EIO;
            failed = _("cannot write '%s'");
        }
    }
    if (failed) {
        ::unlink(tmp.c_str());
        if ((err == ENOSPC || err == EDQUOT) && rewriteInPlace(path, contents))
            return;
        raiseSystem(err, strprintf(failed, tmp.c_str()));
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        err = errno;
        ::unlink(tmp.c_str());
        raiseSystem(err, strprintf(_("cannot rename '%s' to '%s'"), tmp.c_str(), path.c_str()));
    }
}

void NetdevNameState::Locked::save()
{
    // Owners that hold nothing are dropped so the file does not grow.
    for (auto it = data.owners.begin(); it != data.owners.end();) {
        if (it->second.names.empty())
            it = data.owners.erase(it);
        else
            ++it;
    }
    // Only the lock holder writes, so a fixed temporary name is safe.
    replaceFile(path_, formatState(data));
}

std::set<std::string> NetdevNameState::Locked::allReservedNames() const
{
    std::set<std::string> all;
    for (const auto &[owner, o] : data.owners)
        all.insert(o.names.begin(), o.names.end());
    return all;
}

std::set<std::string> NetdevNameState::reservedNames(const std::string &owner) const
{
    auto l = lock();
    auto it = l.data.owners.find(owner);
    return it == l.data.owners.end() ? std::set<std::string>{} : it->second.names;
}

uint32_t NetdevNameState::groupOf(const std::string &owner) const
{
    auto l = lock();
    auto it = l.data.owners.find(owner);
    return it == l.data.owners.end() ? 0 : it->second.group;
}

void NetdevNameState::release(const std::string &owner, const std::vector<std::string> &names)
{
    auto l = lock();
    auto it = l.data.owners.find(owner);
    if (it == l.data.owners.end())
        return;
    if (names.empty()) {
        l.data.owners.erase(it);
    } else {
        for (const auto &n : names)
            it->second.names.erase(n);
    }
    l.save();
}

} // namespace vd
