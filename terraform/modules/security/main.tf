# Three security groups: the bastion (SSH from the admins), every node
# (SSH from the bastion, and what Kubernetes and Calico need between nodes)
# and the control plane (the API from the cluster subnet, etcd among
# control-plane nodes). Nothing else is reachable from outside: the API
# comes in through the load balancer, whose members see the cluster
# subnet's addresses. Egress stays OpenStack's default (all).

resource "openstack_networking_secgroup_v2" "bastion" {
  name        = "${var.name}-bastion"
  description = "SSH from the admins"
}

resource "openstack_networking_secgroup_v2" "nodes" {
  name        = "${var.name}-nodes"
  description = "Every Kubernetes node"
}

resource "openstack_networking_secgroup_v2" "control_plane" {
  name        = "${var.name}-control-plane"
  description = "Kubernetes control-plane nodes"
}

locals {
  groups = {
    bastion       = openstack_networking_secgroup_v2.bastion.id
    nodes         = openstack_networking_secgroup_v2.nodes.id
    control_plane = openstack_networking_secgroup_v2.control_plane.id
  }

  # Each rule: the group it belongs to, the protocol and ports, and the
  # source: a group (from_group) or an address range (from_cidr).
  rules = merge(
    { for c in var.admin_cidrs : "bastion-ssh-${c}" => { group = "bastion", protocol = "tcp", from = 22, to = 22, from_cidr = c, from_group = null } },
    {
      nodes-ssh = { group = "nodes", protocol = "tcp", from = 22, to = 22, from_cidr = null, from_group = "bastion" }
      # The API server, Prometheus and metrics-server reach the kubelets.
      nodes-kubelet = { group = "nodes", protocol = "tcp", from = 10250, to = 10250, from_cidr = null, from_group = "nodes" }
      # Calico: pod traffic between nodes in VXLAN, and Typha's fan-out.
      nodes-calico-vxlan = { group = "nodes", protocol = "udp", from = 4789, to = 4789, from_cidr = null, from_group = "nodes" }
      nodes-calico-typha = { group = "nodes", protocol = "tcp", from = 5473, to = 5473, from_cidr = null, from_group = "nodes" }
      # node-exporter, scraped by Prometheus on the nodes.
      nodes-node-exporter = { group = "nodes", protocol = "tcp", from = 9100, to = 9100, from_cidr = null, from_group = "nodes" }
      # NodePorts (the ingress controller's Service) from load balancers
      # on the cluster subnet only.
      nodes-nodeports = { group = "nodes", protocol = "tcp", from = 30000, to = 32767, from_cidr = var.cidr, from_group = null }
      nodes-icmp      = { group = "nodes", protocol = "icmp", from = null, to = null, from_cidr = null, from_group = "nodes" }
      # The API: from the load balancer's members' side of the subnet and
      # from the nodes (kubelets, in-cluster clients).
      control-plane-api = { group = "control_plane", protocol = "tcp", from = 6443, to = 6443, from_cidr = var.cidr, from_group = null }
      # etcd's client and peer ports, among control-plane nodes only.
      control-plane-etcd = { group = "control_plane", protocol = "tcp", from = 2379, to = 2380, from_cidr = null, from_group = "control_plane" }
    },
  )
}

resource "openstack_networking_secgroup_rule_v2" "rule" {
  for_each = local.rules

  security_group_id = local.groups[each.value.group]
  description       = each.key
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = each.value.protocol
  port_range_min    = each.value.from
  port_range_max    = each.value.to
  remote_ip_prefix  = each.value.from_cidr
  remote_group_id   = each.value.from_group == null ? null : local.groups[each.value.from_group]
}
