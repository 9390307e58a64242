/* Sv39 virtual memory (privileged spec 1.12, 4.4): see vm_common.h. */
#include "vm_common.h"

int main(void)
{
    priv_init("vm_sv39");
    vm_test(3);
    return 0;
}
