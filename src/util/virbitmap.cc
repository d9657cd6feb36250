#include <config.h>

#include "util/virbitmap.h"

#include <bit>

namespace vd {

void Bitmap::grow(size_t nbits)
{
    if (nbits <= nbits_)
        return;
    nbits_ = nbits;
    chunks_.resize((nbits + kChunkBits - 1) / kChunkBits);
}

void Bitmap::set(size_t bit)
{
    if (bit >= nbits_)
        grow(bit + 1); // std::vector growth keeps this amortised O(1)
    auto &chunk = chunks_[bit / kChunkBits];
    if (!chunk)
        chunk = std::make_unique<Chunk>(); // value-initialised: all clear
    (*chunk)[(bit % kChunkBits) / kWordBits] |= uint64_t{1} << (bit % kWordBits);
}

void Bitmap::clear(size_t bit) noexcept
{
    if (bit >= nbits_)
        return;
    auto &chunk = chunks_[bit / kChunkBits];
    if (chunk)
        (*chunk)[(bit % kChunkBits) / kWordBits] &= ~(uint64_t{1} << (bit % kWordBits));
}

bool Bitmap::test(size_t bit) const noexcept
{
    if (bit >= nbits_)
        return false;
    const auto &chunk = chunks_[bit / kChunkBits];
    return chunk && ((*chunk)[(bit % kChunkBits) / kWordBits] >> (bit % kWordBits)) & 1;
}

void Bitmap::clearAll() noexcept
{
    for (auto &c : chunks_)
        c.reset();
}

std::optional<size_t> Bitmap::nextSet(size_t from) const noexcept
{
    if (from >= nbits_)
        return std::nullopt;
    size_t c = from / kChunkBits;
    size_t w = (from % kChunkBits) / kWordBits;
    uint64_t mask = ~uint64_t{0} << (from % kWordBits);
    for (; c < chunks_.size(); ++c, w = 0, mask = ~uint64_t{0}) {
        if (!chunks_[c])
            continue;
        for (; w < kChunkWords; ++w, mask = ~uint64_t{0}) {
            uint64_t bits = (*chunks_[c])[w] & mask;
            if (bits) {
                size_t bit = c * kChunkBits + w * kWordBits +
                             static_cast<size_t>(std::countr_zero(bits));
                return bit < nbits_ ? std::optional<size_t>(bit) : std::nullopt;
            }
        }
    }
    return std::nullopt;
}

std::optional<size_t> Bitmap::nextClear(size_t from) const noexcept
{
    if (from >= nbits_)
        return std::nullopt;
    size_t c = from / kChunkBits;
    size_t w = (from % kChunkBits) / kWordBits;
    uint64_t mask = ~uint64_t{0} << (from % kWordBits);
    for (; c < chunks_.size(); ++c, w = 0, mask = ~uint64_t{0}) {
        if (!chunks_[c]) {
            // An unallocated chunk is all clear: the first candidate in it.
            size_t bit = c * kChunkBits + w * kWordBits + static_cast<size_t>(std::countr_zero(mask));
            return bit < nbits_ ? std::optional<size_t>(bit) : std::nullopt;
        }
        for (; w < kChunkWords; ++w, mask = ~uint64_t{0}) {
            uint64_t bits = ~(*chunks_[c])[w] & mask;
            if (bits) {
                size_t bit = c * kChunkBits + w * kWordBits +
                             static_cast<size_t>(std::countr_zero(bits));
                return bit < nbits_ ? std::optional<size_t>(bit) : std::nullopt;
            }
        }
    }
    return std::nullopt;
}

size_t Bitmap::count() const noexcept
{
    size_t n = 0;
    for (const auto &c : chunks_)
        if (c)
            for (auto w : *c)
                n += static_cast<size_t>(std::popcount(w));
    return n;
}

} // namespace vd
