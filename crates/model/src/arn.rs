//! ARNs of registry resources, in AWS's exact spelling.

/// The partition that owns a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Builds ARNs for one account in one region.
#[derive(Debug, Clone, Copy)]
pub struct Arn<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Arn<'a> {
    pub fn new(region: &'a str, account: &'a str) -> Self {
        Self { region, account }
    }

    /// `arn:{partition}:iot:{region}:{account}:{kind}/{name}`
    pub fn resource(&self, kind: &str, name: &str) -> String {
        format!(
            "arn:{}:iot:{}:{}:{}/{}",
            partition_for_region(self.region),
            self.region,
            self.account,
            kind,
            name
        )
    }

    pub fn cert(&self, id: &str) -> String {
        self.resource("cert", id)
    }

    pub fn cacert(&self, id: &str) -> String {
        self.resource("cacert", id)
    }

    pub fn policy(&self, name: &str) -> String {
        self.resource("policy", name)
    }

    pub fn thing(&self, name: &str) -> String {
        self.resource("thing", name)
    }

    /// The certificate id named by a certificate ARN of any region or account, if it is one.
    pub fn parse_cert(arn: &str) -> Option<(&str, &str)> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(5, ':');
        let _partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let _account = parts.next()?;
        let resource = parts.next()?;
        if service != "iot" {
            return None;
        }
        Some((region, resource.strip_prefix("cert/")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_carry_partition_region_and_account() {
        let a = Arn::new("ap-northeast-1", "123456789012");
        assert_eq!(
            a.cert("ab"),
            "arn:aws:iot:ap-northeast-1:123456789012:cert/ab"
        );
        assert_eq!(
            Arn::new("cn-north-1", "1").policy("p"),
            "arn:aws-cn:iot:cn-north-1:1:policy/p"
        );
        assert_eq!(
            Arn::parse_cert("arn:aws:iot:us-east-1:1:cert/abc"),
            Some(("us-east-1", "abc"))
        );
        assert_eq!(Arn::parse_cert("arn:aws:iot:us-east-1:1:thing/abc"), None);
    }
}
