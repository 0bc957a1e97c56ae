//! Lines a user pastes as they are: `curl` for function URLs (in the form that needs no DNS),
//! `awslocal` for everything else, quoted for a POSIX shell.

use super::view::UrlView;

/// The host label of a function URL (`http://<id>.lambda-url.<region>...`).
pub fn url_id(function_url: &str) -> Option<String> {
    let url = url::Url::parse(function_url).ok()?;
    let mut labels = url.host_str()?.split('.');
    let id = labels.next()?;
    (labels.next() == Some("lambda-url") && !id.is_empty()).then(|| id.to_owned())
}

/// Both printed forms of a function URL.
pub fn url_view(function_url: &str, auth: &str, region: &str, port: u16) -> Option<UrlView> {
    let id = url_id(function_url)?;
    Some(UrlView {
        function_url: function_url.to_owned(),
        offline: format!("http://{id}.lambda-url.{region}.localhost:{port}/"),
        localstack_cloud: format!(
            "http://{id}.lambda-url.{region}.localhost.localstack.cloud:{port}/"
        ),
        url_id: id,
        auth: auth.to_owned(),
    })
}

/// Single-quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Single-quotes `s` even when it would not need it (URLs read better that way).
pub fn quote_always(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `curl` to a function URL: JSON POST of `payload` to `path`; signed for `AWS_IAM` URLs.
pub fn curl_line(url: &UrlView, path: Option<&str>, payload: &str, region: &str) -> String {
    let target = format!(
        "{}{}",
        url.offline,
        path.unwrap_or("/").trim_start_matches('/')
    );
    let mut line = format!(
        "curl -s -X POST {} -H 'content-type: application/json' -d {}",
        quote_always(&target),
        shell_quote(payload)
    );
    if url.auth == "AWS_IAM" {
        line.push_str(&format!(
            " --aws-sigv4 'aws:amz:{region}:lambda' --user test:test"
        ));
    }
    line
}

/// `awslocal lambda invoke` that prints the function's answer (AWS CLI v1 syntax).
pub fn awslocal_invoke_line(function: &str, payload: &str) -> String {
    format!(
        "awslocal lambda invoke --function-name {} --payload {} /dev/stdout",
        shell_quote(function),
        shell_quote(payload)
    )
}

/// `awslocal sqs send-message` to a queue (FIFO queues need a group id).
pub fn awslocal_send_line(queue_url: &str, body: &str, fifo: bool) -> String {
    let mut line = format!(
        "awslocal sqs send-message --queue-url {} --message-body {}",
        quote_always(queue_url),
        shell_quote(body)
    );
    if fifo {
        line.push_str(" --message-group-id lsk --message-deduplication-id \"$(date +%s%N)\"");
    }
    line
}

/// `awslocal s3 cp` of a short text from stdin to `s3://bucket/key`: an upload that fires an S3
/// trigger whose filters `key` matches.
pub fn awslocal_upload_line(bucket: &str, key: &str) -> String {
    format!(
        "echo 'hello from lsk' | awslocal s3 cp - {}",
        quote_always(&format!("s3://{bucket}/{key}"))
    )
}

/// `awslocal s3 ls` of a bucket.
pub fn awslocal_ls_line(bucket: &str) -> String {
    format!("awslocal s3 ls s3://{bucket}/")
}
