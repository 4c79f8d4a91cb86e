// Prints KubeVirt's own VirtualMachine and VirtualMachineInstance CRDs as YAML: the same
// generator functions virt-operator installs them with, OpenAPI validation included.
package main

import (
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/tools/util"
)

func main() {
	generators := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineCrd,
		components.NewVirtualMachineInstanceCrd,
	}
	for _, generate := range generators {
		crd, err := generate()
		if err == nil {
			err = util.MarshallObject(crd, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubevirt crd-gen:", err)
			os.Exit(1)
		}
	}
}
