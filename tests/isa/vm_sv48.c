/* Sv48 virtual memory (privileged spec 1.12, 4.5): see vm_common.h. */
#include "vm_common.h"

int main(void)
{
    priv_init("vm_sv48");
    vm_test(4);
    return 0;
}
