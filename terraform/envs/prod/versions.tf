terraform {
  required_version = ">= 1.9"
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }

  # State in an S3-compatible bucket (most OpenStack clouds serve one:
  # Ceph RGW or Swift's s3api), configured at init from backend.hcl
  # (git-ignored; backend.hcl.example shows the keys). Terraform has no
  # Swift backend any more.
  backend "s3" {}
}

# Credentials from clouds.yaml (the entry named by var.cloud) or the OS_*
# environment variables; see docs/infrastructure.md.
provider "openstack" {
  cloud = var.cloud
}
