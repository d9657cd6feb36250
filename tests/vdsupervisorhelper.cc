// The supervisor process for the tests (the CLI has its own entry point):
// supervisorMain() plus a teardown that records its call in the file named
// by state.teardownMarker, so tests can see that teardown ran and when.
#include <config.h>

#include "qemu/qemu_supervisor.h"
#include "util/virfile.h"
#include "util/virgettext.h"

#include <unistd.h>

int main()
{
    vd::initGettext();
    return vd::qemu::supervisorMain([](vd::qemu::Supervisor &sup) {
        sup.setTeardown([](const vd::qemu::SupervisorConfig &cfg, const vd::ExitStatus &st) {
            if (const vd::JsonValue *marker = cfg.state.find("teardownMarker")) {
                // The state file must still exist while tearing down.
                std::string stateSeen = access(cfg.stateFile.c_str(), F_OK) == 0 ? "yes" : "no";
                vd::writeFileAtomic(marker->asString(),
                                    st.describe() + "\nstate-file:" + stateSeen + "\n");
            }
        });
    });
}
