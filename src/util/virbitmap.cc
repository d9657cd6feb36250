#include <config.h>

#include "util/virbitmap.h"

#include <bit>

namespace vd {

void Bitmap::grow(size_t nbits)
{
    if (nbits <= nbits_)
        return;
    nbits_ = nbits;
    words_.resize((nbits + kWordBits - 1) / kWordBits, 0);
}

void Bitmap::set(size_t bit)
{
    if (bit >= nbits_) {
        // Grow geometrically so that setting bits in ascending order stays
        // amortised O(1).
        size_t want = bit + 1;
        if (want < nbits_ * 2)
            want = nbits_ * 2;
        grow(want);
    }
    words_[bit / kWordBits] |= uint64_t{1} << (bit % kWordBits);
}

void Bitmap::clear(size_t bit) noexcept
{
    if (bit < nbits_)
        words_[bit / kWordBits] &= ~(uint64_t{1} << (bit % kWordBits));
}

bool Bitmap::test(size_t bit) const noexcept
{
    return bit < nbits_ && (words_[bit / kWordBits] >> (bit % kWordBits)) & 1;
}

void Bitmap::clearAll() noexcept
{
    for (auto &w : words_)
        w = 0;
}

std::optional<size_t> Bitmap::nextSet(size_t from) const noexcept
{
    if (from >= nbits_)
        return std::nullopt;
    size_t i = from / kWordBits;
    uint64_t w = words_[i] & (~uint64_t{0} << (from % kWordBits));
    for (;;) {
        if (w) {
            size_t bit = i * kWordBits + static_cast<size_t>(std::countr_zero(w));
            return bit < nbits_ ? std::optional<size_t>(bit) : std::nullopt;
        }
        if (++i >= words_.size())
            return std::nullopt;
        w = words_[i];
    }
}

std::optional<size_t> Bitmap::nextClear(size_t from) const noexcept
{
    if (from >= nbits_)
        return std::nullopt;
    size_t i = from / kWordBits;
    // Invert so that the same find-first-set logic applies; bits below
    // `from` are masked out.
    uint64_t w = ~words_[i] & (~uint64_t{0} << (from % kWordBits));
    for (;;) {
        if (w) {
            size_t bit = i * kWordBits + static_cast<size_t>(std::countr_zero(w));
            return bit < nbits_ ? std::optional<size_t>(bit) : std::nullopt;
        }
        if (++i >= words_.size())
            return std::nullopt;
        w = ~words_[i];
    }
}

size_t Bitmap::count() const noexcept
{
    size_t n = 0;
    for (auto w : words_)
        n += static_cast<size_t>(std::popcount(w));
    return n;
}

} // namespace vd
