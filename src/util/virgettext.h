// Translation markers.  Every user-visible string goes through _() so that
// xgettext (po/POTFILES.in) extracts it into po/virt-direct.pot.
#pragma once

#include <libintl.h>

#define _(str) dgettext("virt-direct", str)
#define N_(str) str

namespace vd {
// Bind the message catalog; called once from each program's main().
void initGettext();
}
