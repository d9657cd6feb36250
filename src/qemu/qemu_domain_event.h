// SPDX-License-Identifier: LGPL-2.1-or-later
// Domain life-cycle events (virDomainEventType): defined, undefined,
// started, stopped -- whoever caused them (a libvirt client, the CLI, the
// guest powering off, a supervisor noticing QEMU died).
//
// The state directories are the single source of truth, so the watcher
// follows them: inotify on the config and run directories, a rescan of the
// driver's domain list shortly after each change (and every few seconds,
// for a supervisor killed without a trace), and events for the
// differences.  A front end that knows why a domain is about to stop
// (destroy) says so first, so the event carries libvirt's detail.
#pragma once

#include <libvirt/libvirt.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "qemu/qemu_driver.h"
#include "util/virfile.h"

namespace vd::qemu {

struct DomainEvent {
    DomainInfo domain; // as it is after the event
    virDomainEventType event = VIR_DOMAIN_EVENT_DEFINED;
    int detail = 0; // the vir*EventDetailType of `event`
};

class DomainEventWatcher {
public:
    using Callback = std::function<void(const DomainEvent &)>;
    // Starts watching at once; `callback` runs on the watcher's thread.
    DomainEventWatcher(const Driver &driver, Callback callback);
    ~DomainEventWatcher();
    DomainEventWatcher(const DomainEventWatcher &) = delete;
    DomainEventWatcher &operator=(const DomainEventWatcher &) = delete;

    // The next stop of `name` happens for this reason
    // (VIR_DOMAIN_EVENT_STOPPED_DESTROYED, ...); the default is SHUTDOWN.
    void expectStop(const std::string &name, int detail);
    // Look now and report what changed, before returning: a front end
    // calls this after each change it made, so that its events are never
    // merged away by the settling delay (a start quickly followed by a
    // destroy still gives both).
    void sync();

private:
    struct Seen {
        DomainInfo info;
        long long configMtimeNs = -1;
    };
    using Snapshot = std::map<std::string, Seen>;

    void run();
    void rescan();
    Snapshot scan() const;
    void compare(const Snapshot &before, const Snapshot &after);
    void emit(const DomainInfo &info, virDomainEventType event, int detail);
    int takeStopDetail(const std::string &name);

    const Driver &driver_;
    Callback callback_;
    UniqueFd inotify_;
    UniqueFd stop_; // eventfd
    std::mutex mutex_;
    std::map<std::string, int> stopDetails_;
    std::mutex scanMutex_; // one scan+compare at a time; guards current_
    Snapshot current_;
    std::thread thread_;
};

} // namespace vd::qemu
