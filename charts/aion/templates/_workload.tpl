{{/*
The accelerator a module-host pool tells its hosts and the orchestrator: cpu, cuda, rocm or
oneapi, from the pool's (or its preset's) vendor. (dict "root" $ "pool" pool)
*/}}
{{- define "aion.poolAccelerator" -}}
{{- $mh := .root.Values.moduleHost -}}
{{- if not (hasKey $mh.presets .pool.preset) -}}
{{- fail (printf "moduleHost.pools[%s].preset %q is not one of %s" .pool.name .pool.preset (keys $mh.presets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $preset := index $mh.presets .pool.preset | default dict -}}
{{- $vendor := default (default "" $preset.vendor) .pool.vendor | toString -}}
{{- $byVendor := dict "cpu" "cpu" "nvidia" "cuda" "amd" "rocm" "intel" "oneapi" -}}
{{- if not (hasKey $byVendor $vendor) -}}
{{- fail (printf "moduleHost.pools[%s]: vendor %q is not one of cpu, nvidia, amd, intel" .pool.name $vendor) -}}
{{- end -}}
{{- index $byVendor $vendor -}}
{{- end -}}

{{/*
Every module-host pool as the orchestrator reads it (AION_ORCHESTRATOR_MODULE_HOST_POOLS):
name=accelerator@address, each pool's headless Service; in the co-located profile the default
pool is the core process itself. (dict "root" $ "coLocated" bool)
*/}}
{{- define "aion.modulePools" -}}
{{- $root := .root -}}
{{- $mh := $root.Values.moduleHost -}}
{{- $entries := list -}}
{{- range $pool := $mh.pools -}}
{{- $address := include "aion.grpcTarget" (dict "root" $root "component" (printf "module-host-%s" $pool.name) "port" 50055) -}}
{{- if and $.coLocated (eq $pool.name $mh.defaultPool) }}{{ $address = "127.0.0.1:50055" }}{{ end -}}
{{- $entries = append $entries (printf "%s=%s@%s" $pool.name (include "aion.poolAccelerator" (dict "root" $root "pool" $pool)) $address) -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/*
Service-specific environment: (dict "root" $ "service" "gateway" "coLocated" bool).
Addresses are headless Services (dns:/// spreads calls over every pod), or the loopback port of the
same process in the co-located profile, where such calls never leave it.
*/}}
{{- define "aion.serviceEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $cat := include "aion.catalog" $root | fromYaml -}}
{{- $c := index $cat .service -}}
{{- $sov := ternary "127.0.0.1:50052" (include "aion.grpcTarget" (dict "root" $root "component" "sovereign-ai" "port" 50052)) .coLocated -}}
{{- $orc := ternary "127.0.0.1:50051" (include "aion.grpcTarget" (dict "root" $root "component" "orchestrator" "port" 50051)) .coLocated -}}
{{- /* observability never runs in the co-located core: always its own Service. */ -}}
{{- $obs := include "aion.grpcTarget" (dict "root" $root "component" "observability" "port" 50054) -}}
- { name: {{ $c.prefix }}HTTP_PORT, value: {{ $c.http | quote }} }
- { name: {{ $c.prefix }}GRPC_PORT, value: {{ $c.grpc | quote }} }
{{- if $c.ops }}
- { name: {{ $c.prefix }}OPS_PORT, value: {{ $c.ops | quote }} }
{{- end }}
{{- if eq .service "gateway" }}
- { name: AION_GATEWAY_SOVEREIGN_ADDRESS, value: {{ $sov | quote }} }
- { name: AION_GATEWAY_ORCHESTRATOR_ADDRESS, value: {{ $orc | quote }} }
- { name: AION_GATEWAY_OBSERVABILITY_ADDRESS, value: {{ $obs | quote }} }
{{- /* data-pipeline never runs in the co-located core; the default module-host pool does. */}}
- { name: AION_GATEWAY_PIPELINE_ADDRESS, value: {{ include "aion.grpcTarget" (dict "root" $root "component" "data-pipeline" "port" 50053) | quote }} }
- { name: AION_GATEWAY_MODULE_HOST_ADDRESS, value: {{ ternary "127.0.0.1:50055" (include "aion.grpcTarget" (dict "root" $root "component" (printf "module-host-%s" $v.moduleHost.defaultPool) "port" 50055)) .coLocated | quote }} }
- name: AION_BOOTSTRAP_ADMIN_KEY
  valueFrom:
    secretKeyRef: { name: {{ include "aion.secretName" $root }}, key: AION_BOOTSTRAP_ADMIN_KEY }
{{- if $v.services.gateway.publicGrpcTlsSecret }}
- { name: AION_GATEWAY_GRPC_TLS_CERT_FILE, value: /etc/aion/tls/public-grpc/tls.crt }
- { name: AION_GATEWAY_GRPC_TLS_KEY_FILE, value: /etc/aion/tls/public-grpc/tls.key }
{{- if $v.services.gateway.requireClientCertificates }}
- { name: AION_GATEWAY_GRPC_TLS_CLIENT_CA_FILE, value: /etc/aion/tls/public-grpc/ca.crt }
{{- end }}
{{- end }}
{{- else if eq .service "orchestrator" }}
- { name: AION_ORCHESTRATOR_SOVEREIGN_ADDRESS, value: {{ $sov | quote }} }
{{- /* The router's p95 from every replica's calls (GetEngineHealth). */}}
- { name: AION_ORCHESTRATOR_OBSERVABILITY_ADDRESS, value: {{ $obs | quote }} }
- { name: AION_ORCHESTRATOR_MODULE_HOST_POOLS, value: {{ include "aion.modulePools" (dict "root" $root "coLocated" .coLocated) | quote }} }
{{- if $v.config.engines }}
- { name: AION_ORCHESTRATOR_ENGINES_FILE, value: /etc/aion/config/engines.yaml }
{{- end }}
{{- if $v.config.policies }}
- { name: AION_ORCHESTRATOR_POLICIES_FILE, value: /etc/aion/config/policies.yaml }
{{- end }}
{{- else if eq .service "observability" }}
{{- $obs := $v.services.observability }}
{{- range $name, $url := dict "ALERTMANAGER_URL" $obs.alertmanagerUrl "PROMETHEUS_URL" $obs.prometheusUrl "LOKI_URL" $obs.lokiUrl }}
{{- if $url }}
- { name: AION_OBSERVABILITY_{{ $name }}, value: {{ $url | quote }} }
{{- end }}
{{- end }}
{{- if $obs.writePrometheusRules }}
- { name: AION_OBSERVABILITY_RULES_NAMESPACE, value: {{ $root.Release.Namespace | quote }} }
{{- $labels := list }}
{{- range $k, $val := $v.monitoring.prometheusRules.labels }}{{ $labels = append $labels (printf "%s=%s" $k $val) }}{{ end }}
- { name: AION_OBSERVABILITY_RULES_LABELS, value: {{ join "," $labels | quote }} }
{{- end }}
{{- /* LLM tracing asks sovereign-ai whether data may go to a tenant's Langfuse deployment. */}}
- { name: AION_OBSERVABILITY_SOVEREIGN_ADDRESS, value: {{ include "aion.grpcTarget" (dict "root" $root "component" (ternary "core-headless" "sovereign-ai" (eq $v.profile "co-located")) "port" 50052) | quote }} }
- name: AION_OBSERVABILITY_WEBHOOK_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ include "aion.secretName" $root }}, key: AION_OBSERVABILITY_WEBHOOK_TOKEN, optional: true }
{{- /* Tenants' Langfuse secret keys, by reference: the Secret mounted in services.yaml. */}}
{{- if $obs.llmTracingSecret }}
- { name: AION_OBSERVABILITY_SECRETS_DIR, value: /etc/aion/observability-secrets }
{{- end }}
{{- else if eq .service "sovereign-ai" }}
- name: AION_SOVEREIGN_RECEIPT_KEY_PASSPHRASE
  valueFrom:
    secretKeyRef: { name: {{ include "aion.secretName" $root }}, key: AION_SOVEREIGN_RECEIPT_KEY_PASSPHRASE }
- { name: AION_SOVEREIGN_K8S_MODE, value: {{ (index $v.services "sovereign-ai").k8sMode | quote }} }
- { name: AION_SOVEREIGN_K8S_NAMESPACE_PREFIX, value: {{ (index $v.services "sovereign-ai").k8sNamespacePrefix | quote }} }
- { name: AION_SOVEREIGN_MANIFESTS_DIR, value: /tmp/manifests }
{{- if $v.config.compliance }}
- { name: AION_SOVEREIGN_COMPLIANCE_FILE, value: /etc/aion/config/compliance.yaml }
{{- end }}
{{- else if eq .service "data-pipeline" }}
{{- $dp := index $v.services "data-pipeline" }}
- { name: AION_PIPELINE_STORAGE_DIR, value: /var/lib/aion/pipeline/store }
- { name: AION_PIPELINE_INBOX_DIR, value: /var/lib/aion/pipeline/inbox }
- { name: AION_PIPELINE_WORK_DIR, value: /var/lib/aion/pipeline-work }
- { name: AION_PIPELINE_UPLOAD_RETENTION, value: {{ $dp.uploads.retention | quote }} }
{{- with $dp.jurisdiction }}
- { name: AION_PIPELINE_JURISDICTION, value: {{ . | quote }} }
{{- /* In the co-located profile sovereign-ai serves from the core's pods. */}}
- { name: AION_PIPELINE_SOVEREIGN_ADDRESS, value: {{ include "aion.grpcTarget" (dict "root" $root "component" (ternary "core-headless" "sovereign-ai" (eq $v.profile "co-located")) "port" 50052) | quote }} }
{{- end }}
{{- with $dp.storage.s3 }}
{{- if .bucket }}
- { name: AION_PIPELINE_S3_BUCKET, value: {{ .bucket | quote }} }
- { name: AION_PIPELINE_S3_REGION, value: {{ .region | quote }} }
- { name: AION_PIPELINE_S3_PREFIX, value: {{ .prefix | quote }} }
- { name: AION_PIPELINE_S3_FORCE_PATH_STYLE, value: {{ .forcePathStyle | quote }} }
{{- if .endpoint }}
- { name: AION_PIPELINE_S3_ENDPOINT, value: {{ .endpoint | quote }} }
{{- end }}
{{- if .existingSecret }}
- name: AION_PIPELINE_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: { name: {{ .existingSecret }}, key: accessKeyId }
- name: AION_PIPELINE_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: { name: {{ .existingSecret }}, key: secretAccessKey }
{{- end }}
{{- end }}
{{- end }}
{{- with $dp.sources.egressAllow }}
- { name: AION_PIPELINE_EGRESS_ALLOW, value: {{ join "," . | quote }} }
{{- end }}
{{- $accounts := $dp.sources.existingSecret }}
{{- if $accounts }}
{{- range $key, $variable := dict "s3" "AION_PIPELINE_S3_SOURCES" "rest" "AION_PIPELINE_REST_SOURCES" "kafka" "AION_PIPELINE_KAFKA_SOURCES" }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef: { name: {{ $accounts }}, key: {{ $key }}, optional: true }
{{- end }}
{{- end }}
{{- else if eq .service "module-host" }}
{{- with $v.moduleHost.registries }}
- { name: AION_MODULE_HOST_REGISTRIES, value: {{ join "," . | quote }} }
{{- end }}
{{- /* Mounted by the module-host workloads (_module-trust.tpl); without it no registry install. */}}
{{- if include "aion.moduleTrust.source" $root }}
- { name: AION_MODULE_HOST_TRUST_POLICY, value: {{ include "aion.moduleTrust.file" $root | quote }} }
{{- end }}
{{- if $v.moduleHost.tenantSecrets }}
- { name: AION_MODULE_HOST_SECRETS_DIR, value: {{ include "aion.moduleSecrets.dir" $root | quote }} }
{{- end }}
{{- end }}
{{- end -}}

{{/*
Probes of a container serving one service: startup on gRPC health (grpc.health.v1, the kubelet's
own client; plaintext only, so HTTP /healthz once the port speaks TLS), liveness /healthz,
readiness /readyz (on the gateway's ops port).
*/}}
{{- define "aion.probes" -}}
{{- $cat := include "aion.catalog" .root | fromYaml -}}
{{- $c := index $cat .service -}}
{{- $tls := or .root.Values.grpcTls.enabled (and (eq .service "gateway") .root.Values.services.gateway.publicGrpcTlsSecret) -}}
startupProbe:
  {{- if $tls }}
  httpGet: { path: /healthz, port: http }
  {{- else }}
  grpc: { port: {{ $c.grpc }} }
  {{- end }}
  periodSeconds: 2
  failureThreshold: 90
livenessProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: {{ ternary "ops" "http" (ne (int $c.ops) 0) }} }
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Port names are unique per pod: in the co-located core only the gateway's are plain. */}}
{{- define "aion.ports" -}}
{{- $cat := include "aion.catalog" .root | fromYaml -}}
{{- $c := index $cat .service -}}
{{- $suffix := ternary (printf "-%s" $c.short) "" (and .coLocated (ne .service "gateway")) -}}
- { name: http{{ $suffix }}, containerPort: {{ $c.http }}, protocol: TCP }
- { name: grpc{{ $suffix }}, containerPort: {{ $c.grpc }}, protocol: TCP }
{{- if $c.ops }}
- { name: ops, containerPort: {{ $c.ops }}, protocol: TCP }
{{- end }}
{{- end -}}

{{/*
One Deployment with its headless Service, PodDisruptionBudget, HorizontalPodAutoscaler and
ServiceAccount: (dict "root" $ "component" name "services" (list of catalog keys it runs)
"settings" merged settings "image" image "labels" extra pod labels "annotations" extra pod
annotations "extraEnv" list "extraVolumes" list "extraMounts" list "command" list "args" list; optionally "hostUsers" bool and
"podSecurityContext"/"containerSecurityContext" dicts merged over the chart's, for a module-host
pool that runs native modules).
*/}}
{{- define "aion.workload" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $s := .settings -}}
{{- $name := printf "%s-%s" (include "aion.fullname" $root) .component -}}
{{- $main := first .services -}}
{{- $cat := include "aion.catalog" $root | fromYaml -}}
{{- $redis := false -}}
{{- range .services }}{{ if (index $cat .).redis }}{{ $redis = true }}{{ end }}{{ end -}}
{{- $coLocated := gt (len .services) 1 -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "aion.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $v.serviceAccounts.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- $k8s := or (has "sovereign-ai" .services) (and (has "observability" .services) $v.services.observability.writePrometheusRules) }}
# Only sovereign-ai (and observability writing PrometheusRules) talk to the Kubernetes API; the
# others get no token at all.
automountServiceAccountToken: {{ $k8s }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "aion.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not $s.autoscaling.enabled }}
  replicas: {{ $s.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "aion.selector" (dict "root" $root "component" .component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }
  template:
    metadata:
      labels:
        {{- include "aion.selector" (dict "root" $root "component" .component) | nindent 8 }}
        app.kubernetes.io/part-of: aion
        {{- range .services }}
        aion.io/runs-{{ . }}: "true"
        {{- end }}
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
        {{- with $s.podLabels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        {{- include "aion.checksums" $root | nindent 8 }}
        {{- with .annotations }}{{ toYaml . | nindent 8 }}{{ end }}
        {{- with $s.podAnnotations }}{{ toYaml . | nindent 8 }}{{ end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: {{ $k8s }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $s.terminationGracePeriodSeconds }}
      {{- if hasKey . "hostUsers" }}
      hostUsers: {{ .hostUsers }}
      {{- end }}
      securityContext:
        {{- toYaml (mergeOverwrite (deepCopy $v.podSecurityContext) (.podSecurityContext | default dict)) | nindent 8 }}
      {{- with $v.image.pullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.runtimeClassName }}
      runtimeClassName: {{ . }}
      {{- end }}
      {{- with $s.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "aion.image" (dict "root" $root "image" .image) }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          {{- with .command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          envFrom:
            - configMapRef: { name: {{ include "aion.fullname" $root }}-env }
          env:
            {{- include "aion.sharedEnv" (dict "root" $root "redis" $redis) | nindent 12 }}
            {{- range .services }}
            {{- include "aion.serviceEnv" (dict "root" $root "service" . "coLocated" $coLocated) | nindent 12 }}
            {{- end }}
            {{- with .extraEnv }}{{ toYaml . | nindent 12 }}{{ end }}
            {{- range $k, $val := $s.env }}
            - { name: {{ $k }}, value: {{ $val | toString | quote }} }
            {{- end }}
            {{- with $v.extraEnv }}{{ toYaml . | nindent 12 }}{{ end }}
          ports:
            {{- range .services }}
            {{- include "aion.ports" (dict "root" $root "service" . "coLocated" $coLocated) | nindent 12 }}
            {{- end }}
          {{- include "aion.probes" (dict "root" $root "service" (ternary "gateway" $main $coLocated)) | nindent 10 }}
          resources:
            {{- toYaml $s.resources | nindent 12 }}
          securityContext:
            {{- toYaml (mergeOverwrite (deepCopy $v.containerSecurityContext) (.containerSecurityContext | default dict)) | nindent 12 }}
          volumeMounts:
            {{- include "aion.volumeMounts" (dict "root" $root "redis" $redis) | nindent 12 }}
            {{- with .extraMounts }}{{ toYaml . | nindent 12 }}{{ end }}
      volumes:
        {{- include "aion.volumes" (dict "root" $root "redis" $redis) | nindent 8 }}
        {{- with .extraVolumes }}{{ toYaml . | nindent 8 }}{{ end }}
---
# Headless: every pod's address is in DNS, and the gRPC clients (dns:///) balance over them.
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}{{ if has "gateway" .services }}-headless{{ end }}
  labels:
    {{- include "aion.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "aion.selector" (dict "root" $root "component" .component) | nindent 4 }}
  ports:
    {{- range .services }}
    {{- $c := index $cat . }}
    {{- $suffix := ternary (printf "-%s" $c.short) "" (and $coLocated (ne . "gateway")) }}
    - { name: http{{ $suffix }}, port: {{ $c.http }}, targetPort: {{ $c.http }}, protocol: TCP }
    - { name: grpc{{ $suffix }}, port: {{ $c.grpc }}, targetPort: {{ $c.grpc }}, protocol: TCP, appProtocol: grpc }
    {{- if $c.ops }}
    - { name: ops, port: {{ $c.ops }}, targetPort: {{ $c.ops }}, protocol: TCP }
    {{- end }}
    {{- end }}
{{- if $s.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "aion.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ $s.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "aion.selector" (dict "root" $root "component" .component) | nindent 6 }}
{{- end }}
{{- if $s.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "aion.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: {{ $name }} }
  minReplicas: {{ $s.autoscaling.minReplicas }}
  maxReplicas: {{ $s.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: { type: Utilization, averageUtilization: {{ $s.autoscaling.targetCPUUtilizationPercentage }} }
    {{- with $s.autoscaling.inFlightRequestsPerPod }}
    - type: Pods
      pods:
        metric: { name: aion_requests_in_flight }
        target: { type: AverageValue, averageValue: {{ . | quote }} }
    {{- end }}
    {{- with $s.autoscaling.extraMetrics }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
