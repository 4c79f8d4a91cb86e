{{/* Name of the chart, or nameOverride. */}}
{{- define "blockhost.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: the release name when it already contains the chart name. */}}
{{- define "blockhost.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Standard labels on every object. */}}
{{- define "blockhost.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "blockhost.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: blockhost
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "web"). */}}
{{- define "blockhost.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blockhost.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels plus the component; call with (dict "root" $ "component" "web"). */}}
{{- define "blockhost.componentLabels" -}}
{{ include "blockhost.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Name of a component's objects (Deployment, Service, ServiceAccount, roles). */}}
{{- define "blockhost.componentName" -}}
{{- printf "%s-%s" (include "blockhost.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full image reference; call with (dict "root" $ "image" .Values.web.image). */}}
{{- define "blockhost.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .image.repository (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{/* Name of the webhook's serving-certificate Secret. */}}
{{- define "blockhost.webhookTlsSecret" -}}
{{- printf "%s-tls" (include "blockhost.componentName" (dict "root" . "component" "webhook")) -}}
{{- end -}}

{{/* Pod-level security: a fixed non-root UID (the images' USER), RuntimeDefault seccomp. */}}
{{- define "blockhost.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security: nothing to escalate to, nothing writable but the mounted /tmp. */}}
{{- define "blockhost.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Scheduling and pull secrets shared by every pod spec. */}}
{{- define "blockhost.podScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
PodDisruptionBudget of one component; call with (dict "root" $ "component" "web" "values" .Values.web).
maxUnavailable 1 rather than minAvailable 1: with one replica (the default, and the only choice on a
single node) minAvailable 1 would forbid every eviction and block `kubectl drain` and k3s upgrades
forever, while a short gap is harmless here (controllers are level-triggered and resume; the webhook
only refuses writes of our kinds meanwhile). With two replicas the same budget keeps one running
during a drain, so the standby takes the Lease (controller) or keeps serving (webhook, web).
*/}}
{{- define "blockhost.pdb" -}}
{{- if .values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "blockhost.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "blockhost.componentLabels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "blockhost.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* The emptyDir every container gets at /tmp (the root filesystem is read-only). */}}
{{- define "blockhost.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{/* The controller's private namespace (docs/controller-state.md): only its service account writes there. */}}
{{- define "blockhost.stateNamespace" -}}
{{- .Values.controller.stateNamespace | default (printf "%s-system" .Release.Namespace) -}}
{{- end }}
