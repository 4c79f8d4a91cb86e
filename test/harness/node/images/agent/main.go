// A static test workload for the harness node (no libc, no shell): `agent` serves HTTP on :8080
// (/healthz; /whoami asks the API server who the pod's ServiceAccount token is, through the
// `kubernetes` Service; anything else says hello), and `agent lookup NAME` or `agent cat FILE` run
// under `kubectl exec`.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "lookup" {
		addresses, err := net.LookupHost(os.Args[2])
		exitOn(err)
		for _, a := range addresses {
			fmt.Println(a)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "cat" {
		data, err := os.ReadFile(os.Args[2])
		exitOn(err)
		os.Stdout.Write(data)
		return
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/whoami", whoami)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		hostname, _ := os.Hostname()
		fmt.Fprintf(w, "hello from %s\n", hostname)
	})
	fmt.Println("listening on :8080")
	exitOn(http.ListenAndServe(":8080", nil))
}

// whoami posts a SelfSubjectReview with the mounted token and relays the API server's answer.
func whoami(w http.ResponseWriter, _ *http.Request) {
	token, err := os.ReadFile(serviceAccount + "/token")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ca, err := os.ReadFile(serviceAccount + "/ca.crt")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	url := "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")) +
		"/apis/authentication.k8s.io/v1/selfsubjectreviews"
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
