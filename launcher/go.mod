module github.com/oxidecomputer/oxide-cloud-controller-manager/launcher

go 1.26
