#include <config.h>

#include "util/virthread.h"

#include <atomic>
#include <system_error>
#include <thread>

namespace vd {

void parallelFor(size_t n, unsigned maxThreads, const std::function<void(size_t)> &body)
{
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < n;)
            body(i);
    };
    size_t extra = std::min<size_t>(n, maxThreads ? maxThreads : 1) ;
    extra = extra ? extra - 1 : 0;
    std::vector<std::thread> threads;
    threads.reserve(extra);
    for (size_t t = 0; t < extra; ++t) {
        try {
            threads.emplace_back(worker);
        } catch (const std::system_error &) {
            break; // out of threads: the ones we have (and we) do the rest
        }
    }
    worker();
    for (auto &t : threads)
        t.join();
}

void closeFdsInParallel(std::vector<UniqueFd> fds, unsigned maxThreads)
{
    parallelFor(fds.size(), maxThreads, [&](size_t i) { fds[i].reset(); });
}

} // namespace vd
