// virt-direct: virsh-like front end (commands are added in tools/cmd_*.cc).
#include <config.h>

#include <iostream>

#include "util/virerror.h"

int main(int argc, char **argv)
{
    vd::initGettext();
    (void)argc;
    (void)argv;
    std::cerr << _("error: no command given") << std::endl;
    return 1;
}
