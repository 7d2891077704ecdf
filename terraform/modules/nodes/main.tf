# The machines: a bastion (the only one with a public address), the
# control-plane nodes and the workers, each on a port of the cluster subnet
# with its security groups, and spread over hypervisors by anti-affinity
# server groups (one host failing takes one etcd member, not a quorum).

data "openstack_images_image_v2" "node" {
  name        = var.image
  most_recent = true
}

resource "openstack_compute_keypair_v2" "admin" {
  name       = "${var.name}-admin"
  public_key = var.ssh_public_key
}

resource "openstack_compute_servergroup_v2" "control_plane" {
  name     = "${var.name}-control-plane"
  policies = ["anti-affinity"]
}

# Soft: more workers than hypervisors still schedule.
resource "openstack_compute_servergroup_v2" "workers" {
  name     = "${var.name}-workers"
  policies = ["soft-anti-affinity"]
}

# Fixed addresses: stable etcd peers and certificates across rebuilds, and
# an inventory known before the machines exist.
locals {
  bastion_address = cidrhost(var.cidr, 5)
  nodes = merge(
    { for i in range(var.control_plane_count) : format("%s-cp-%d", var.name, i + 1) => {
      role            = "control-plane"
      address         = cidrhost(var.cidr, 10 + i)
      flavor          = var.control_plane_flavor
      server_group    = openstack_compute_servergroup_v2.control_plane.id
      security_groups = [var.security_groups.nodes, var.security_groups.control_plane]
    } },
    { for i in range(var.worker_count) : format("%s-worker-%d", var.name, i + 1) => {
      role            = "worker"
      address         = cidrhost(var.cidr, 20 + i)
      flavor          = var.worker_flavor
      server_group    = openstack_compute_servergroup_v2.workers.id
      security_groups = [var.security_groups.nodes]
    } },
  )
}

resource "openstack_networking_port_v2" "node" {
  for_each = local.nodes

  name               = each.key
  network_id         = var.network_id
  security_group_ids = each.value.security_groups
  admin_state_up     = true
  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = each.value.address
  }
}

resource "openstack_compute_instance_v2" "node" {
  for_each = local.nodes

  name        = each.key
  flavor_name = each.value.flavor
  image_id    = var.root_volume_size == 0 ? data.openstack_images_image_v2.node.id : null
  key_pair    = openstack_compute_keypair_v2.admin.name
  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    hostname = each.key
    ssh_user = var.ssh_user
  })
  metadata = {
    role = each.value.role
  }

  dynamic "block_device" {
    for_each = var.root_volume_size > 0 ? [1] : []
    content {
      uuid                  = data.openstack_images_image_v2.node.id
      source_type           = "image"
      destination_type      = "volume"
      volume_size           = var.root_volume_size
      boot_index            = 0
      delete_on_termination = true
    }
  }

  network {
    port = openstack_networking_port_v2.node[each.key].id
  }

  scheduler_hints {
    group = each.value.server_group
  }

  lifecycle {
    # A newer image is picked up by rebuilding a node on purpose (drain,
    # taint, replace), never by a plan that happens to run after it.
    ignore_changes = [image_id, block_device]
  }
}

resource "openstack_networking_port_v2" "bastion" {
  name               = "${var.name}-bastion"
  network_id         = var.network_id
  security_group_ids = [var.security_groups.bastion]
  admin_state_up     = true
  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = local.bastion_address
  }
}

resource "openstack_compute_instance_v2" "bastion" {
  name        = "${var.name}-bastion"
  flavor_name = var.bastion_flavor
  image_id    = data.openstack_images_image_v2.node.id
  key_pair    = openstack_compute_keypair_v2.admin.name
  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    hostname = "${var.name}-bastion"
    ssh_user = var.ssh_user
  })
  metadata = {
    role = "bastion"
  }

  network {
    port = openstack_networking_port_v2.bastion.id
  }

  lifecycle {
    ignore_changes = [image_id]
  }
}

resource "openstack_networking_floatingip_v2" "bastion" {
  pool        = var.external_network_name
  description = "${var.name} bastion"
}

resource "openstack_networking_floatingip_associate_v2" "bastion" {
  floating_ip = openstack_networking_floatingip_v2.bastion.address
  port_id     = openstack_networking_port_v2.bastion.id
}
