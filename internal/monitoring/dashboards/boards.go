package dashboards

// The boards. Selectors name jobs as the ServiceMonitors do (the Service's
// name: server, worker, kratos), CloudNativePG's and ingress-nginx's
// series by namespace, and Kubernetes' (cAdvisor, kube-state-metrics) by
// our namespaces.
const (
	api              = `job="server",grpc_service!="grpc.health.v1.Health"`
	ours             = `namespace=~"groundwork|groundwork-auth|groundwork-db"`
	cnpg             = `namespace="groundwork-db"`
	ingress          = `exported_namespace=~"groundwork|groundwork-auth"`
	goJobs           = `job=~"server|worker"`
	pools            = `job=~"server|worker"`
	serverErrorCodes = `grpc_code=~"Unknown|Internal|Unavailable|DataLoss|DeadlineExceeded"`
)

// Boards are every dashboard, in a stable order.
func Boards() []Board {
	return []Board{apiBoard(), queueBoard(), postgresBoard(), edgeBoard(), infrastructureBoard(), sloBoard()}
}

// Write writes every board of Boards (go tool mage generate).
func Write(root string) ([]string, error) { return WriteBoards(root, Boards()) }

// window is the rate window Grafana picks for the panel's step.
const window = "[$__rate_interval]"

func apiBoard() Board {
	return Board{
		UID: "groundwork-api", Title: "Groundwork / API",
		Description: "The gRPC API and its JSON gateway (one interceptor chain): rate, errors and duration per method and code, work in flight, and what the server refused or recovered from.",
		Rows: []Row{
			{Title: "Traffic", Panels: []Panel{
				{Title: "Requests by method", Unit: "reqps", Queries: []Query{{
					Expr: `sum by (grpc_service, grpc_method) (rate(grpc_server_handled_total{` + api + `}` + window + `))`, Legend: "{{grpc_method}}"}}},
				{Title: "Errors by method and code", Unit: "reqps",
					Description: "Every code but OK; client errors (InvalidArgument, Unauthenticated, NotFound) included. The SLO counts only server-side codes.",
					Queries: []Query{{
						Expr: `sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{` + api + `,grpc_code!="OK"}` + window + `))`, Legend: "{{grpc_method}} {{grpc_code}}"}}},
				{Title: "Server-side error ratio", Unit: "percentunit",
					Queries: []Query{{
						Expr: `sum(rate(grpc_server_handled_total{` + api + `,` + serverErrorCodes + `}` + window + `)) / sum(rate(grpc_server_handled_total{` + api + `}` + window + `))`, Legend: "errors / requests"}}},
				{Title: "In flight", Unit: "short",
					Description: "RPCs started and not yet handled, per pod.",
					Queries: []Query{{
						Expr: `sum by (pod) (grpc_server_started_total{` + api + `}) - sum by (pod) (grpc_server_handled_total{` + api + `})`, Legend: "{{pod}}"}}},
			}},
			{Title: "Duration", Panels: []Panel{
				{Title: "p99 duration by method", Unit: "s", Queries: []Query{{
					Expr: `histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary"}` + window + `)))`, Legend: "{{grpc_method}}"}}},
				{Title: "Duration percentiles, all methods", Unit: "s", Queries: []Query{
					{Expr: `histogram_quantile(0.5, sum by (le) (rate(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary"}` + window + `)))`, Legend: "p50"},
					{Expr: `histogram_quantile(0.9, sum by (le) (rate(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary"}` + window + `)))`, Legend: "p90"},
					{Expr: `histogram_quantile(0.99, sum by (le) (rate(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary"}` + window + `)))`, Legend: "p99"},
				}},
			}},
			{Title: "Protection", Panels: []Panel{
				// Counters of rare events: a series appears with the first
				// event, so "or vector(0)" shows 0 rather than "No data".
				{Title: "Refused before the interceptors", Unit: "reqps", Width: 8,
					Description: "RPCs grpc-go ended itself: oversized or undecodable requests.",
					Queries: []Query{{
						Expr: `sum by (grpc_method, grpc_code) (rate(grpc_server_refused_total{job="server"}` + window + `)) or vector(0)`, Legend: "{{grpc_method}} {{grpc_code}}"}}},
				{Title: "Panics recovered", Unit: "short", Width: 8,
					Description: "Handler panics turned into INTERNAL; each is logged once with its stack.",
					Queries: []Query{{
						Expr: `sum by (pod) (increase(grpc_server_panics_recovered_total{job="server"}` + window + `))`, Legend: "{{pod}}"}}},
				{Title: "Log lines sampled out", Unit: "short", Width: 8,
					Description: "Request log lines dropped by sampling (errors are never sampled).",
					Queries: []Query{{
						Expr: `sum by (grpc_method) (rate(grpc_server_log_lines_sampled_out_total{job="server"}` + window + `)) or vector(0)`, Legend: "{{grpc_method}}"}}},
				{Title: "Session checks by result", Unit: "reqps",
					Description: "Kratos session lookups by the auth interceptor, and answers served from the grace cache while Kratos was unreachable.",
					Queries: []Query{
						{Expr: `sum by (result) (rate(auth_session_checks_total{job="server"}` + window + `))`, Legend: "{{result}}"},
						{Expr: `sum(rate(auth_session_grace_served_total{job="server"}` + window + `))`, Legend: "served from grace"},
					}},
				{Title: "Running builds", Unit: "short", Stat: true, Width: 12,
					Description: "Pods per build (version and revision): two during a rollout.",
					Queries: []Query{{
						Expr: `count by (job, version, revision) (groundwork_build_info{` + goJobs + `})`, Legend: "{{job}} {{version}} {{revision}}"}}},
			}},
		},
	}
}

func queueBoard() Board {
	return Board{
		UID: "groundwork-queue", Title: "Groundwork / Queue and worker",
		Description: "Background jobs (pgqueue over River): throughput per kind, failures, retries and discards, queue depth and the oldest job's wait, run time percentiles.",
		Rows: []Row{
			{Title: "Throughput", Panels: []Panel{
				{Title: "Completed by kind", Unit: "ops", Queries: []Query{{
					Expr: `sum by (kind) (rate(pgqueue_jobs_completed_total` + window + `))`, Legend: "{{kind}}"}}},
				{Title: "Enqueued by kind", Unit: "ops", Queries: []Query{{
					Expr: `sum by (kind) (rate(pgqueue_jobs_enqueued_total` + window + `))`, Legend: "{{kind}}"}}},
				{Title: "Failures by kind", Unit: "ops",
					Description: "Failed attempts, and what followed: a retry, or the job discarded after its last attempt.",
					Queries: []Query{
						{Expr: `sum by (kind) (rate(pgqueue_jobs_failed_total` + window + `))`, Legend: "failed {{kind}}"},
						{Expr: `sum by (kind) (rate(pgqueue_jobs_retried_total` + window + `))`, Legend: "retried {{kind}}"},
						{Expr: `sum by (kind) (rate(pgqueue_jobs_discarded_total` + window + `))`, Legend: "discarded {{kind}}"},
					}},
				{Title: "Failure ratio by kind", Unit: "percentunit", Queries: []Query{{
					Expr: `sum by (kind) (rate(pgqueue_jobs_failed_total` + window + `)) / sum by (kind) (rate(pgqueue_jobs_started_total` + window + `))`, Legend: "{{kind}}"}}},
			}},
			{Title: "Backlog", Panels: []Panel{
				{Title: "Depth by queue", Unit: "short", Queries: []Query{{
					Expr: `max by (queue) (pgqueue_queue_depth)`, Legend: "{{queue}}"}}},
				{Title: "Oldest available job", Unit: "s", Queries: []Query{{
					Expr: `max by (queue) (pgqueue_queue_oldest_available_age_seconds)`, Legend: "{{queue}}"}}},
			}},
			{Title: "Run time", Panels: []Panel{
				{Title: "Run time percentiles by kind", Unit: "s", Queries: []Query{
					{Expr: `histogram_quantile(0.5, sum by (le, kind) (rate(pgqueue_job_run_duration_seconds_bucket` + window + `)))`, Legend: "p50 {{kind}}"},
					{Expr: `histogram_quantile(0.95, sum by (le, kind) (rate(pgqueue_job_run_duration_seconds_bucket` + window + `)))`, Legend: "p95 {{kind}}"},
					{Expr: `histogram_quantile(0.99, sum by (le, kind) (rate(pgqueue_job_run_duration_seconds_bucket` + window + `)))`, Legend: "p99 {{kind}}"},
				}},
				{Title: "Depth query failures", Unit: "short",
					Description: "Scrapes whose depth query failed or timed out; the depth panels then have gaps.",
					Queries: []Query{{
						Expr: `sum by (job) (increase(pgqueue_queue_scrape_errors_total` + window + `))`, Legend: "{{job}}"}}},
			}},
		},
	}
}

func postgresBoard() Board {
	return Board{
		UID: "groundwork-postgres", Title: "Groundwork / PostgreSQL",
		Description: "The CloudNativePG cluster (its exporter on port metrics, scraped by the PodMonitor) and the pgx pools of the server and the worker.",
		Rows: []Row{
			{Title: "Pools (server and worker)", Panels: []Panel{
				{Title: "Pool: in use / max", Unit: "percentunit", Queries: []Query{{
					Expr: `max by (job, pod) (pgxpool_acquired_conns{` + pools + `} / pgxpool_max_conns{` + pools + `})`, Legend: "{{job}} {{pod}}"}}},
				{Title: "Pool: acquire waits", Unit: "s",
					Description: "Seconds per second spent waiting for a connection because none was idle.",
					Queries: []Query{
						{Expr: `sum by (job) (rate(pgxpool_empty_acquire_wait_seconds_total{` + pools + `}` + window + `))`, Legend: "waiting {{job}}"},
						{Expr: `sum by (job) (rate(pgxpool_canceled_acquires_total{` + pools + `}` + window + `))`, Legend: "canceled acquires/s {{job}}"},
					}},
				{Title: "Pool: connections", Unit: "short", Queries: []Query{
					{Expr: `sum by (job) (pgxpool_total_conns{` + pools + `})`, Legend: "total {{job}}"},
					{Expr: `sum by (job) (pgxpool_idle_conns{` + pools + `})`, Legend: "idle {{job}}"},
					{Expr: `sum by (job) (rate(pgxpool_new_conns_total{` + pools + `}` + window + `))`, Legend: "opened/s {{job}}"},
				}},
			}},
			{Title: "CloudNativePG", Panels: []Panel{
				{Title: "Instances up", Unit: "short", Stat: true, Queries: []Query{{
					Expr: `sum(cnpg_collector_up{` + cnpg + `})`, Legend: "up"}}},
				{Title: "Connections by state", Unit: "short", Queries: []Query{
					{Expr: `sum by (pod, state) (cnpg_backends_total{` + cnpg + `})`, Legend: "{{pod}} {{state}}"},
					{Expr: `max by (pod) (cnpg_pg_settings_setting{` + cnpg + `,name="max_connections"})`, Legend: "max_connections {{pod}}"},
				}},
				{Title: "Transactions", Unit: "ops", Queries: []Query{
					{Expr: `sum by (datname) (rate(cnpg_pg_stat_database_xact_commit{` + cnpg + `}` + window + `))`, Legend: "commit {{datname}}"},
					{Expr: `sum by (datname) (rate(cnpg_pg_stat_database_xact_rollback{` + cnpg + `}` + window + `))`, Legend: "rollback {{datname}}"},
				}},
				{Title: "Replication lag", Unit: "s", Queries: []Query{{
					Expr: `max by (pod) (cnpg_pg_replication_lag{` + cnpg + `})`, Legend: "{{pod}}"}}},
				{Title: "WAL and archiving", Unit: "short", Queries: []Query{
					{Expr: `max by (pod) (cnpg_collector_pg_wal{` + cnpg + `,value="count"})`, Legend: "WAL files {{pod}}"},
					{Expr: `max by (pod) (cnpg_pg_stat_archiver_seconds_since_last_archival{` + cnpg + `})`, Legend: "s since last archived {{pod}}"},
					{Expr: `sum by (pod) (increase(cnpg_pg_stat_archiver_failed_count{` + cnpg + `}` + window + `))`, Legend: "archive failures {{pod}}"},
				}},
				{Title: "Transaction ID age", Unit: "short", Queries: []Query{{
					Expr: `max by (datname) (cnpg_pg_database_xid_age{` + cnpg + `})`, Legend: "{{datname}}"}}},
				{Title: "Database size", Unit: "bytes", Queries: []Query{{
					Expr: `max by (datname) (cnpg_pg_database_size_bytes{` + cnpg + `})`, Legend: "{{datname}}"}}},
			}},
		},
	}
}

func edgeBoard() Board {
	return Board{
		UID: "groundwork-edge", Title: "Groundwork / Auth and edge",
		Description: "Ory Kratos (its admin metrics, through the metrics-only sidecar in the cluster), the ingress-nginx controller in front of everything, and the certificates.",
		Rows: []Row{
			{Title: "Kratos", Panels: []Panel{
				{Title: "Kratos requests by status", Unit: "reqps", Queries: []Query{{
					Expr: `sum by (code) (rate(http_requests_total{job="kratos"}` + window + `))`, Legend: "{{code}}"}}},
				// "or ... * 0": 0 % while no 5xx series exists yet, not "No data".
				{Title: "Kratos 5xx ratio", Unit: "percentunit", Queries: []Query{{
					Expr: `sum(rate(http_requests_total{job="kratos",code=~"5.."}` + window + `)) / sum(rate(http_requests_total{job="kratos"}` + window + `)) or sum(rate(http_requests_total{job="kratos"}` + window + `)) * 0`, Legend: "5xx / all"}}},
				{Title: "Kratos p99 latency by endpoint", Unit: "s",
					Description: "Kratos's own endpoint label arrives as exported_endpoint: the scrape's endpoint label (the port's name) wins.",
					Queries: []Query{{
						Expr: `histogram_quantile(0.99, sum by (le, exported_endpoint) (rate(http_requests_duration_seconds_bucket{job="kratos"}` + window + `)))`, Legend: "{{exported_endpoint}}"}}},
			}},
			{Title: "Ingress", Panels: []Panel{
				{Title: "Ingress requests by status", Unit: "reqps", Queries: []Query{{
					Expr: `sum by (ingress, status) (rate(nginx_ingress_controller_requests{` + ingress + `}` + window + `))`, Legend: "{{ingress}} {{status}}"}}},
				{Title: "Ingress 5xx ratio", Unit: "percentunit", Queries: []Query{{
					Expr: `sum by (ingress) (rate(nginx_ingress_controller_requests{` + ingress + `,status=~"5.."}` + window + `)) / sum by (ingress) (rate(nginx_ingress_controller_requests{` + ingress + `}` + window + `)) or sum by (ingress) (rate(nginx_ingress_controller_requests{` + ingress + `}` + window + `)) * 0`, Legend: "{{ingress}}"}}},
				{Title: "Ingress p99 latency", Unit: "s", Queries: []Query{{
					Expr: `histogram_quantile(0.99, sum by (le, ingress) (rate(nginx_ingress_controller_request_duration_seconds_bucket{` + ingress + `}` + window + `)))`, Legend: "{{ingress}}"}}},
			}},
			{Title: "Certificates", Panels: []Panel{
				{Title: "Time to expiry", Unit: "s", Width: 24,
					Description: "cert-manager renews ours 10 days before the end; a line under 7 days fires GroundworkCertificateExpiringSoon.",
					Queries: []Query{{
						Expr: `min by (exported_namespace, name) (certmanager_certificate_expiration_timestamp_seconds{exported_namespace=~"groundwork|groundwork-auth|groundwork-db"}) - time()`, Legend: "{{exported_namespace}}/{{name}}"}}},
			}},
		},
	}
}

func infrastructureBoard() Board {
	return Board{
		UID: "groundwork-infrastructure", Title: "Groundwork / Infrastructure",
		Description: "Per pod CPU, memory and restarts (kubelet's cAdvisor and kube-state-metrics, both part of kube-prometheus-stack) and the Go runtime of the server and the worker. Nodes and the cluster as a whole: kube-prometheus-stack's own dashboards, linked above (tag kubernetes-mixin).",
		Links:       []string{kubernetesMixinTag},
		Rows: []Row{
			{Title: "Pods", Panels: []Panel{
				{Title: "CPU by pod", Unit: "short", Width: 8, Queries: []Query{{
					Expr: `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{` + ours + `,container!=""}` + window + `))`, Legend: "{{namespace}}/{{pod}}"}}},
				{Title: "Memory by pod (working set)", Unit: "bytes", Width: 8, Queries: []Query{{
					Expr: `sum by (namespace, pod) (container_memory_working_set_bytes{` + ours + `,container!=""})`, Legend: "{{namespace}}/{{pod}}"}}},
				{Title: "Restarts (1 h)", Unit: "short", Width: 8, Queries: []Query{{
					Expr: `sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{` + ours + `}[1h]))`, Legend: "{{namespace}}/{{pod}}"}}},
			}},
			{Title: "Go runtime (server and worker)", Panels: []Panel{
				{Title: "Goroutines", Unit: "short", Width: 8, Queries: []Query{{
					Expr: `sum by (job, pod) (go_goroutines{` + goJobs + `})`, Legend: "{{job}} {{pod}}"}}},
				{Title: "Heap in use", Unit: "bytes", Width: 8, Queries: []Query{{
					Expr: `sum by (job, pod) (go_memstats_heap_inuse_bytes{` + goJobs + `})`, Legend: "{{job}} {{pod}}"}}},
				{Title: "GC pause time", Unit: "s", Width: 8,
					Description: "Seconds per second spent in stop-the-world GC pauses.",
					Queries: []Query{{
						Expr: `sum by (job, pod) (rate(go_gc_duration_seconds_sum{` + goJobs + `}` + window + `))`, Legend: "{{job}} {{pod}}"}}},
				{Title: "Process CPU", Unit: "short", Queries: []Query{{
					Expr: `sum by (job, pod) (rate(process_cpu_seconds_total{` + goJobs + `}` + window + `))`, Legend: "{{job}} {{pod}}"}}},
				{Title: "Process resident memory", Unit: "bytes", Queries: []Query{{
					Expr: `sum by (job, pod) (process_resident_memory_bytes{` + goJobs + `})`, Legend: "{{job}} {{pod}}"}}},
			}},
		},
	}
}

func sloBoard() Board {
	return Board{
		UID: "groundwork-slo", Title: "Groundwork / SLOs",
		Description: "The API's objectives (k8s/base/monitoring/rules/api.yaml): 99.9 % of RPCs succeed, 99 % of unary RPCs answer within 0.5 s, over 30 days. Burn rate 1 spends the budget exactly in 30 days; the fast-burn page fires at 14.4 (1 h) and 6 (6 h).",
		Rows: []Row{
			{Title: "Availability (99.9 %)", Panels: []Panel{
				{Title: "Availability, 30 days", Unit: "percentunit", Stat: true, Queries: []Query{{
					Expr: `1 - (sum(increase(grpc_server_handled_total{` + api + `,` + serverErrorCodes + `}[30d])) / sum(increase(grpc_server_handled_total{` + api + `}[30d])))`, Legend: "availability"}}},
				{Title: "Availability: error budget left, 30 days", Unit: "percentunit", Stat: true, Queries: []Query{{
					Expr: `1 - (sum(increase(grpc_server_handled_total{` + api + `,` + serverErrorCodes + `}[30d])) / sum(increase(grpc_server_handled_total{` + api + `}[30d]))) / 0.001`, Legend: "budget left"}}},
				{Title: "Availability: burn rate", Unit: "short", Queries: []Query{
					{Expr: `slo:api_availability_errors:ratio_rate5m / 0.001`, Legend: "5m"},
					{Expr: `slo:api_availability_errors:ratio_rate1h / 0.001`, Legend: "1h"},
					{Expr: `slo:api_availability_errors:ratio_rate6h / 0.001`, Legend: "6h"},
					{Expr: `slo:api_availability_errors:ratio_rate3d / 0.001`, Legend: "3d"},
				}},
			}},
			{Title: "Latency (99 % within 0.5 s)", Panels: []Panel{
				{Title: "Within 0.5 s, 30 days", Unit: "percentunit", Stat: true, Queries: []Query{{
					Expr: `sum(increase(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary",le="0.5"}[30d])) / sum(increase(grpc_server_handling_seconds_count{` + api + `,grpc_type="unary"}[30d]))`, Legend: "within 0.5 s"}}},
				{Title: "Latency: error budget left, 30 days", Unit: "percentunit", Stat: true, Queries: []Query{{
					Expr: `1 - (1 - sum(increase(grpc_server_handling_seconds_bucket{` + api + `,grpc_type="unary",le="0.5"}[30d])) / sum(increase(grpc_server_handling_seconds_count{` + api + `,grpc_type="unary"}[30d]))) / 0.01`, Legend: "budget left"}}},
				{Title: "Latency: burn rate", Unit: "short", Queries: []Query{
					{Expr: `slo:api_latency_slow:ratio_rate5m / 0.01`, Legend: "5m"},
					{Expr: `slo:api_latency_slow:ratio_rate1h / 0.01`, Legend: "1h"},
					{Expr: `slo:api_latency_slow:ratio_rate6h / 0.01`, Legend: "6h"},
					{Expr: `slo:api_latency_slow:ratio_rate3d / 0.01`, Legend: "3d"},
				}},
			}},
		},
	}
}
