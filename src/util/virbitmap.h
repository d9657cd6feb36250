// A growable bitmap of unsigned bit positions, scanned a 64-bit word at a
// time.  The netdev name pool uses it to track which numbered names
// (macvtap0, macvtap1, ...) are taken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace vd {

class Bitmap {
public:
    Bitmap() = default;
    explicit Bitmap(size_t nbits) { grow(nbits); }

    // Number of addressable bits; bits beyond it read as clear.
    size_t size() const noexcept { return nbits_; }
    // Make at least `nbits` bits addressable (never shrinks); new bits are clear.
    void grow(size_t nbits);

    // set() grows the map when needed; clear()/test() beyond size() are no-ops.
    void set(size_t bit);
    void clear(size_t bit) noexcept;
    bool test(size_t bit) const noexcept;
    void clearAll() noexcept;

    // First set / clear bit at or after `from` and below size(); nullopt if
    // none.  Whole words are skipped with one comparison each.
    std::optional<size_t> nextSet(size_t from) const noexcept;
    std::optional<size_t> nextClear(size_t from) const noexcept;

    // Number of set bits.
    size_t count() const noexcept;

private:
    static constexpr size_t kWordBits = 64;
    std::vector<uint64_t> words_;
    size_t nbits_ = 0;
};

} // namespace vd
