{{/* Names: <release>-aion unless the release name already says aion. */}}
{{- define "aion.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aion.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aion.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aion.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aion
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "aion.selector" -}}
app.kubernetes.io/name: {{ include "aion.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The services: environment prefix, ports (apps' DEFAULT_PORTS, libs/runtime/src/config.ts) and
what each needs. The gateway serves readiness and metrics on its ops port; the others on HTTP.
*/}}
{{- define "aion.catalog" -}}
gateway: { short: gw, prefix: AION_GATEWAY_, http: 8080, grpc: 50050, ops: 9080, redis: true }
orchestrator: { short: orc, prefix: AION_ORCHESTRATOR_, http: 8081, grpc: 50051, ops: 0, redis: false }
sovereign-ai: { short: sov, prefix: AION_SOVEREIGN_, http: 8082, grpc: 50052, ops: 0, redis: false }
data-pipeline: { short: dp, prefix: AION_PIPELINE_, http: 8083, grpc: 50053, ops: 0, redis: false }
observability: { short: obs, prefix: AION_OBSERVABILITY_, http: 8084, grpc: 50054, ops: 0, redis: false }
module-host: { short: mh, prefix: AION_MODULE_HOST_, http: 8085, grpc: 50055, ops: 0, redis: false }
{{- end -}}

{{/* <registry>/<repository>:<tag> or @<digest>: (dict "root" $ "image" .image). */}}
{{- define "aion.image" -}}
{{- $registry := default .root.Values.image.registry .image.registry -}}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s/%s@%s" $registry .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* A service's settings: its own over `defaults` (deep merge). */}}
{{- define "aion.settings" -}}
{{- $own := index .root.Values.services .name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $own)) -}}
{{- end -}}

{{/* Headless Service name of a component, and the gRPC target that spreads calls over its pods. */}}
{{- define "aion.grpcTarget" -}}
{{- printf "dns:///%s-%s.%s.svc.%s:%v" (include "aion.fullname" .root) .component .root.Release.Namespace .root.Values.clusterDomain .port -}}
{{- end -}}

{{- define "aion.secretName" -}}
{{- default (printf "%s-secrets" (include "aion.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Where the app role's DATABASE_URL is: a Secret name and key. */}}
{{- define "aion.databaseSecret" -}}
{{- if .Values.postgresql.app.existingSecret -}}
{ name: {{ .Values.postgresql.app.existingSecret }}, key: {{ .Values.postgresql.app.existingSecretKey }} }
{{- else -}}
{ name: {{ include "aion.fullname" . }}-connections, key: DATABASE_URL }
{{- end -}}
{{- end -}}

{{- define "aion.redisSecret" -}}
{{- if .Values.redis.existingSecret -}}
{ name: {{ .Values.redis.existingSecret }}, key: {{ .Values.redis.existingSecretKey }} }
{{- else -}}
{ name: {{ include "aion.fullname" . }}-connections, key: REDIS_URL }
{{- end -}}
{{- end -}}

{{- define "aion.kafkaSaslSecret" -}}
{{- if .Values.kafka.sasl.existingSecret -}}
{ name: {{ .Values.kafka.sasl.existingSecret }}, key: {{ .Values.kafka.sasl.existingSecretKey }} }
{{- else -}}
{ name: {{ include "aion.fullname" . }}-connections, key: KAFKA_SASL_PASSWORD }
{{- end -}}
{{- end -}}

{{/* postgresql://user:password@host:port/db?sslmode=…(&sslrootcert=…) for one role. */}}
{{- define "aion.postgresUrl" -}}
{{- $pg := .root.Values.postgresql -}}
{{- $auth := index $pg .role -}}
{{- $cred := $auth.username | urlquery -}}
{{- if $auth.password }}{{ $cred = printf "%s:%s" $cred ($auth.password | urlquery) }}{{ end -}}
{{- $query := printf "sslmode=%s" $pg.sslMode -}}
{{- if $pg.caSecret }}{{ $query = printf "%s&sslrootcert=/etc/aion/tls/postgresql/ca.crt" $query }}{{ end -}}
{{- printf "postgresql://%s@%s:%v/%s?%s" $cred $pg.host $pg.port $pg.database $query -}}
{{- end -}}

{{- define "aion.redisUrl" -}}
{{- $r := .Values.redis -}}
{{- $auth := ternary (printf ":%s@" ($r.password | urlquery)) "" (ne $r.password "") -}}
{{- printf "%s://%s%s:%v/%v" (ternary "rediss" "redis" $r.tls) $auth $r.host $r.port $r.database -}}
{{- end -}}

{{/* Environment every service container gets (shared variables, secrets, transport). */}}
{{- define "aion.sharedEnv" -}}
- name: AION_MODE
  value: distributed
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {{ include "aion.databaseSecret" .root }}
{{- if .redis }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef: {{ include "aion.redisSecret" .root }}
{{- if .root.Values.redis.caSecret }}
- { name: REDIS_TLS_CA_FILE, value: /etc/aion/tls/redis-ca/ca.crt }
{{- end }}
{{- if .root.Values.redis.clientCertSecret }}
- { name: REDIS_TLS_CERT_FILE, value: /etc/aion/tls/redis-client/tls.crt }
- { name: REDIS_TLS_KEY_FILE, value: /etc/aion/tls/redis-client/tls.key }
{{- end }}
{{- end }}
- name: AION_INTERNAL_TOKEN_SECRET
  valueFrom:
    secretKeyRef: { name: {{ include "aion.secretName" .root }}, key: AION_INTERNAL_TOKEN_SECRET }
{{- if .root.Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {{ include "aion.kafkaSaslSecret" .root }}
{{- end }}
{{- end -}}

{{/* Volumes for the TLS material and config files a service container mounts. */}}
{{- define "aion.volumes" -}}
- name: tmp
  emptyDir: { sizeLimit: 256Mi }
- name: config
  configMap: { name: {{ include "aion.fullname" .root }}-files }
{{- if .root.Values.postgresql.caSecret }}
- name: postgresql-ca
  secret: { secretName: {{ .root.Values.postgresql.caSecret }}, items: [{ key: ca.crt, path: ca.crt }] }
{{- end }}
{{- if .root.Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: { secretName: {{ .root.Values.kafka.tls.caSecret }}, items: [{ key: ca.crt, path: ca.crt }] }
{{- end }}
{{- if .root.Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  secret: { secretName: {{ .root.Values.kafka.tls.clientCertSecret }} }
{{- end }}
{{- if .root.Values.grpcTls.enabled }}
- name: grpc-tls
  secret: { secretName: {{ .root.Values.grpcTls.secret }} }
{{- end }}
{{- if and .redis .root.Values.redis.caSecret }}
- name: redis-ca
  secret: { secretName: {{ .root.Values.redis.caSecret }}, items: [{ key: ca.crt, path: ca.crt }] }
{{- end }}
{{- if and .redis .root.Values.redis.clientCertSecret }}
- name: redis-client
  secret: { secretName: {{ .root.Values.redis.clientCertSecret }} }
{{- end }}
{{- end -}}

{{- define "aion.volumeMounts" -}}
- { name: tmp, mountPath: /tmp }
- { name: config, mountPath: /etc/aion/config, readOnly: true }
{{- if .root.Values.postgresql.caSecret }}
- { name: postgresql-ca, mountPath: /etc/aion/tls/postgresql, readOnly: true }
{{- end }}
{{- if .root.Values.kafka.tls.caSecret }}
- { name: kafka-ca, mountPath: /etc/aion/tls/kafka-ca, readOnly: true }
{{- end }}
{{- if .root.Values.kafka.tls.clientCertSecret }}
- { name: kafka-client, mountPath: /etc/aion/tls/kafka-client, readOnly: true }
{{- end }}
{{- if and .redis .root.Values.redis.caSecret }}
- { name: redis-ca, mountPath: /etc/aion/tls/redis-ca, readOnly: true }
{{- end }}
{{- if and .redis .root.Values.redis.clientCertSecret }}
- { name: redis-client, mountPath: /etc/aion/tls/redis-client, readOnly: true }
{{- end }}
{{- if .root.Values.grpcTls.enabled }}
- { name: grpc-tls, mountPath: /etc/aion/tls/grpc, readOnly: true }
{{- end }}
{{- end -}}

{{/* The checksum annotations that roll pods when their configuration changes. */}}
{{- define "aion.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmaps.yaml") . | sha256sum }}
checksum/connections: {{ include (print .Template.BasePath "/connections.yaml") . | sha256sum }}
{{- end -}}
