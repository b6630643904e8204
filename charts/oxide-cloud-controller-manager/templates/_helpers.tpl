{{/* Object names are fixed: RBAC, the Secret reference and docs all say oxide-cloud-controller-manager. */}}
{{- define "occm.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{- define "occm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "occm.name" . }}
{{- end -}}

{{- define "occm.labels" -}}
{{ include "occm.selectorLabels" . }}
app.kubernetes.io/component: cloud-controller-manager
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "occm.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
