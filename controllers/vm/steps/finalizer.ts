/** Holds a VM object until its backend VM and disks are gone. */
export const VM_FINALIZER = 'blockhost.io/vm-backend';
