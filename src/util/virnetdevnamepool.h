// Names for auto-named macvtap/macvlan devices ("macvtap0", "macvtap1", ...).
//
// NamePool is the in-memory allocator for one prefix: a bitmap of taken
// numbers, seeded from ONE link dump of the namespace (so devices that other
// programs created are known without probing each name), and a rotating
// cursor.  Allocation is NEXT-FIT: the search starts after the name handed
// out last, so a just-released name is not reused until the cursor wraps.
// (Reusing the lowest free name lets a new guest take a name whose previous
// owner is still being torn down.)  Nothing here probes the kernel; the
// caller creates with NLM_F_EXCL and calls markTaken() + allocate() again on
// EEXIST.
//
// NetdevNameState is the persistent side, because each virt-direct command
// is a short-lived process: under a lock file in a state directory
// (Paths::runDir + "/netdev") it keeps the cursor of each prefix, the names
// each owner (domain) holds and each owner's link group.  A new process thus
// resumes after the last name handed out and never reuses a name a running
// guest holds, even if that guest's device has vanished meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/virbitmap.h"
#include "util/virfile.h"

namespace vd {

class NamePool {
public:
    // `limit` = number of usable ids; 0 = as many as fit in IFNAMSIZ with
    // this prefix (e.g. 10^8 for "macvtap": "macvtap99999999" is 15 chars).
    explicit NamePool(std::string prefix, size_t limit = 0);

    const std::string &prefix() const noexcept { return prefix_; }
    size_t limit() const noexcept { return limit_; }
    static size_t maxIdsFor(const std::string &prefix);

    // The id of a name this pool would generate ("macvtap7" -> 7); nullopt
    // for other names, including non-canonical ones like "macvtap07".
    std::optional<size_t> idOf(const std::string &name) const;
    std::string nameOf(size_t id) const;

    // Mark an id (or a name, if it is one of ours) as taken / free.
    void markTaken(size_t id);
    bool markTaken(const std::string &name);
    void markFree(size_t id) noexcept { taken_.clear(id); }
    bool isTaken(size_t id) const noexcept { return taken_.test(id); }
    size_t takenCount() const noexcept { return taken_.count(); }

    // Next free id at or after the cursor, wrapping once; marks it taken and
    // moves the cursor past it.  nullopt when every id is taken.
    std::optional<size_t> allocate();
    std::optional<std::string> allocateName();

    size_t cursor() const noexcept { return cursor_; }
    void setCursor(size_t c) noexcept { cursor_ = c < limit_ ? c : 0; }

private:
    std::optional<size_t> findFreeFrom(size_t from, size_t end) const;

    std::string prefix_;
    size_t limit_;
    Bitmap taken_;
    size_t cursor_ = 0;
};

// The persistent reservations of one state directory.  lock() takes an
// exclusive flock (per open file description, so it also serialises
// threads of one process) and loads the file; save() writes it atomically.
class NetdevNameState {
public:
    struct Owner {
        uint32_t group = 0;          // link group of the owner's devices, 0 = none yet
        std::set<std::string> names; // interface names the owner holds
    };
    struct Data {
        std::map<std::string, size_t> cursors;  // prefix -> cursor
        std::map<std::string, Owner> owners;    // owner (domain name) -> holdings
        uint32_t nextGroup = 0;                 // group allocation cursor (offset)
    };

    class Locked {
    public:
        Data data;
        // Write the data back (atomic rename); the lock stays held.
        void save();
        // All names held by any owner.
        std::set<std::string> allReservedNames() const;

    private:
        friend class NetdevNameState;
        Locked(std::string path, UniqueFd lockFd) : path_(std::move(path)), lockFd_(std::move(lockFd)) {}
        std::string path_;
        UniqueFd lockFd_; // closing it drops the flock
    };

    // `dir` is created (0700) when first locked.
    explicit NetdevNameState(std::string dir);
    const std::string &dir() const noexcept { return dir_; }

    Locked lock() const;

    // Convenience wrappers, each under the lock.
    std::set<std::string> reservedNames(const std::string &owner) const;
    uint32_t groupOf(const std::string &owner) const;
    // Forget the given names of `owner` (all its names and its group if
    // `names` is empty or nothing is left).
    void release(const std::string &owner, const std::vector<std::string> &names = {});

    // The first group id we hand out; groups are kBase + 0..kCount-1.
    static constexpr uint32_t kGroupBase = 0x76640000; // "vd" << 16
    static constexpr uint32_t kGroupCount = 0x10000;

private:
    std::string dir_;
};

} // namespace vd
