{{/*
Names, labels and the selector are those of the Go CCM's chart and manifest (v0.7.1), so that
`helm upgrade` of a Go chart release and `kubectl apply` over the Go manifest update the same
objects (the Deployment selector is immutable) instead of leaving orphans:
  occm.appName   app.kubernetes.io/name and the container name: the chart name, or .Values.name
                 (the Go chart's override);
  occm.name      every object name: the release name when it contains occm.appName, else
                 <release>-<appName> (the Go chart's fullName); `make manifest` renders release
                 oxide-cloud-controller-manager, so the manifest's objects are named just that;
  selector       app.kubernetes.io/name + app.kubernetes.io/instance (the release).
*/}}
{{- define "occm.appName" -}}
{{- default .Chart.Name (dig "name" "" .Values.AsMap) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "occm.name" -}}
{{- $app := include "occm.appName" . -}}
{{- if contains $app .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $app | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "occm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "occm.appName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Every object's labels: the selector labels plus Helm's conventional ones, as the Go chart sets
them. hack/render-manifest.sh drops helm.sh/chart and app.kubernetes.io/managed-by from the plain
manifest, whose objects Helm does not manage.
*/}}
{{- define "occm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "occm.selectorLabels" . }}
app.kubernetes.io/component: cloud-controller-manager
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The defaults of values.yaml, for values that lack a key: `helm upgrade --reuse-values` of a
release made with an older chart (the Go chart has only `deployment.*`) reuses that release's
values and drops this chart's values.yaml. test/chart.test.ts renders with every key removed and
checks the result equals the default render, so this copy cannot drift from values.yaml.
*/}}
{{- define "occm.defaults" -}}
replicaCount: 1
image:
  repository: ghcr.io/oxidecomputer/oxide-cloud-controller-manager
  tag: ''
  pullPolicy: IfNotPresent
imagePullSecrets: []
secretName: ''
clusterName: kubernetes
leaderElection:
  enabled: true
  resourceNamespace: kube-system
  resourceName: cloud-controller-manager
securePort: 10258
extraArgs: []
extraEnv: []
extraVolumes: []
extraVolumeMounts: []
resources:
  requests:
    cpu: 50m
    memory: 128Mi
  limits:
    memory: 384Mi
priorityClassName: system-cluster-critical
nodeSelector: {}
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        preference:
          matchExpressions:
            - key: node-role.kubernetes.io/control-plane
              operator: Exists
tolerations:
  - key: node.cloudprovider.kubernetes.io/uninitialized
    value: 'true'
    effect: NoSchedule
  - key: node-role.kubernetes.io/control-plane
    operator: Exists
    effect: NoSchedule
  - key: node-role.kubernetes.io/etcd
    operator: Exists
    effect: NoExecute
  - key: node.kubernetes.io/not-ready
    operator: Exists
    effect: NoSchedule
  - key: node.kubernetes.io/not-ready
    operator: Exists
    effect: NoExecute
  - key: CriticalAddonsOnly
    operator: Exists
podLabels: {}
podAnnotations: {}
podSecurityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
rbac:
  create: true
serviceAccount:
  create: true
  name: ''
  annotations: {}
podDisruptionBudget:
  enabled: true
  maxUnavailable: 1
podMonitor:
  enabled: false
  namespace: ''
  labels: {}
  interval: 30s
  scrapeTimeout: ''
  tlsConfig:
    insecureSkipVerify: true
  authorization: {}
  relabelings: []
  metricRelabelings: []
dashboard:
  enabled: false
  namespace: ''
  labels:
    grafana_dashboard: '1'
  annotations: {}
prometheusRule:
  enabled: false
  namespace: ''
  labels: {}
  additionalLabels: {}
  selector: ''
  nodeUninitializedFor: 15m
  servicePendingFor: 15m
  workqueueStuckFor: 15m
  oxideErrorRatio: 0.1
{{- end -}}

{{/*
Fills keys missing in .v from .d, recursing into maps present in both (Helm's coalescing), except
into the keys in .opaque: Kubernetes objects (affinity, resources, security contexts, …) that
are whole values, where a key the operator removed with null must stay removed.
*/}}
{{- define "occm.fill" -}}
{{- $v := .v -}}
{{- $opaque := .opaque | default list -}}
{{- range $key, $default := .d -}}
{{- if not (hasKey $v $key) -}}
{{- $_ := set $v $key $default -}}
{{- else if and (kindIs "map" $default) (kindIs "map" (get $v $key)) (not (has $key $opaque)) -}}
{{- include "occm.fill" (dict "v" (get $v $key) "d" $default) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The values every template reads, as YAML: `{{- $v := include "occm.values" . | fromYaml }}`.
Missing keys get their defaults, and the Go chart's keys, deprecated, apply where the new key is
still at its default (with --reuse-values they are the Go release's values; a new key the
operator set wins):
  deployment.replicas        -> replicaCount
  deployment.image.name      -> image.repository
  deployment.image.tag       -> image.tag
  deployment.imagePullPolicy -> image.pullPolicy
*/}}
{{- define "occm.values" -}}
{{- $d := include "occm.defaults" . | fromYaml -}}
{{- $v := deepCopy .Values.AsMap -}}
{{- $opaque := list "resources" "nodeSelector" "affinity" "podLabels" "podAnnotations" "podSecurityContext" "securityContext" -}}
{{- include "occm.fill" (dict "v" $v "d" $d "opaque" $opaque) -}}
{{- $go := $v.deployment | default dict -}}
{{- $goImage := $go.image | default dict -}}
{{- if and (hasKey $go "replicas") (eq (toString $v.replicaCount) (toString $d.replicaCount)) -}}
{{- $_ := set $v "replicaCount" $go.replicas -}}
{{- end -}}
{{- if and $goImage.name (eq $v.image.repository $d.image.repository) -}}
{{- $_ := set $v.image "repository" $goImage.name -}}
{{- end -}}
{{- if and $goImage.tag (eq (toString $v.image.tag) (toString $d.image.tag)) -}}
{{- $_ := set $v.image "tag" (toString $goImage.tag) -}}
{{- end -}}
{{- if and $go.imagePullPolicy (eq $v.image.pullPolicy $d.image.pullPolicy) -}}
{{- $_ := set $v.image "pullPolicy" $go.imagePullPolicy -}}
{{- end -}}
{{- if and (gt (int $v.replicaCount) 1) (not $v.leaderElection.enabled) -}}
{{- fail (printf "replicaCount is %v but leaderElection.enabled is false: every replica would run the controllers at once and fight over the same Nodes, load balancers and routes. Enable leader election or set replicaCount to 1." $v.replicaCount) -}}
{{- end -}}
{{- toYaml $v -}}
{{- end -}}

{{/* The Secret with the Oxide credentials: secretName, else occm.name as the Go chart names it. */}}
{{- define "occm.secretName" -}}
{{- $v := include "occm.values" . | fromYaml -}}
{{- $v.secretName | default (include "occm.name" .) -}}
{{- end -}}

{{/* The ServiceAccount the pod runs as: serviceAccount.name, else occm.name. */}}
{{- define "occm.serviceAccountName" -}}
{{- $v := include "occm.values" . | fromYaml -}}
{{- $v.serviceAccount.name | default (include "occm.name" .) -}}
{{- end -}}

{{- define "occm.image" -}}
{{- $v := include "occm.values" . | fromYaml -}}
{{ $v.image.repository }}:{{ $v.image.tag | default .Chart.AppVersion }}
{{- end -}}
