//! AWS IoT's modeled exceptions. The registry raises [`IotError`]; each protocol adapter maps it
//! to the wire in exactly one place.

use std::fmt;

/// One AWS IoT exception shape, with its HTTP status from the service model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    Throttling,
    CertificateValidation,
    MalformedPolicy,
    RegistrationCodeValidation,
    Unauthorized,
    ResourceNotFound,
    CertificateState,
    ResourceAlreadyExists,
    DeleteConflict,
    CertificateConflict,
    VersionConflict,
    VersionsLimitExceeded,
    LimitExceeded,
    InternalFailure,
    ServiceUnavailable,
    /// No operation is served at the requested method and path.
    UnknownOperation,
    /// iot-data: a shadow version conflict.
    Conflict,
    /// iot-data: a shadow document over the size limit.
    RequestEntityTooLarge,
    /// iot-data: a shadow document that is not UTF-8.
    UnsupportedDocumentEncoding,
    /// iot-data's ThrottlingException (429; the control plane's is 400).
    DataThrottling,
    /// Jobs: a job or execution in a state that forbids the change.
    InvalidStateTransition,
    /// RegisterThing could not create what the template asks for.
    ResourceRegistrationFailure,
    ConflictingResourceUpdate,
    /// A certificate transfer refused because policies or things are still attached.
    TransferConflict,
    /// A certificate transfer that was already accepted.
    TransferAlreadyCompleted,
    /// A topic rule's SQL (or a template) that does not parse.
    SqlParse,
    /// iot-data: the caller's policies do not allow the operation (a device's HTTPS publish).
    Forbidden,
    /// TestInvokeAuthorizer: the authorizer's function answered something AWS would not take.
    InvalidResponse,
    /// Fleet indexing: a query that does not parse or is not supported.
    InvalidQuery,
    /// Fleet indexing: an aggregation over a field that cannot take it.
    InvalidAggregation,
    /// Fleet indexing: the index is still being built.
    IndexNotReady,
}

impl ErrorCode {
    /// The exception name that goes into `x-amzn-ErrorType`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "InvalidRequestException",
            ErrorCode::Throttling => "ThrottlingException",
            ErrorCode::CertificateValidation => "CertificateValidationException",
            ErrorCode::MalformedPolicy => "MalformedPolicyException",
            ErrorCode::RegistrationCodeValidation => "RegistrationCodeValidationException",
            ErrorCode::Unauthorized => "UnauthorizedException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::CertificateState => "CertificateStateException",
            ErrorCode::ResourceAlreadyExists => "ResourceAlreadyExistsException",
            ErrorCode::DeleteConflict => "DeleteConflictException",
            ErrorCode::CertificateConflict => "CertificateConflictException",
            ErrorCode::VersionConflict => "VersionConflictException",
            ErrorCode::VersionsLimitExceeded => "VersionsLimitExceededException",
            ErrorCode::LimitExceeded => "LimitExceededException",
            ErrorCode::InternalFailure => "InternalFailureException",
            ErrorCode::ServiceUnavailable => "ServiceUnavailableException",
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::Conflict => "ConflictException",
            ErrorCode::RequestEntityTooLarge => "RequestEntityTooLargeException",
            ErrorCode::UnsupportedDocumentEncoding => "UnsupportedDocumentEncodingException",
            ErrorCode::DataThrottling => "ThrottlingException",
            ErrorCode::InvalidStateTransition => "InvalidStateTransitionException",
            ErrorCode::ResourceRegistrationFailure => "ResourceRegistrationFailureException",
            ErrorCode::ConflictingResourceUpdate => "ConflictingResourceUpdateException",
            ErrorCode::TransferConflict => "TransferConflictException",
            ErrorCode::TransferAlreadyCompleted => "TransferAlreadyCompletedException",
            ErrorCode::SqlParse => "SqlParseException",
            ErrorCode::Forbidden => "ForbiddenException",
            ErrorCode::InvalidResponse => "InvalidResponseException",
            ErrorCode::InvalidQuery => "InvalidQueryException",
            ErrorCode::InvalidAggregation => "InvalidAggregationException",
            ErrorCode::IndexNotReady => "IndexNotReadyException",
        }
    }

    /// The HTTP status AWS answers this exception with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::Throttling
            | ErrorCode::CertificateValidation
            | ErrorCode::MalformedPolicy
            | ErrorCode::RegistrationCodeValidation
            | ErrorCode::ResourceRegistrationFailure
            | ErrorCode::SqlParse
            | ErrorCode::InvalidResponse
            | ErrorCode::InvalidQuery
            | ErrorCode::InvalidAggregation
            | ErrorCode::IndexNotReady => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::ResourceNotFound | ErrorCode::UnknownOperation => 404,
            ErrorCode::CertificateState => 406,
            ErrorCode::ResourceAlreadyExists
            | ErrorCode::DeleteConflict
            | ErrorCode::CertificateConflict
            | ErrorCode::VersionConflict
            | ErrorCode::VersionsLimitExceeded
            | ErrorCode::Conflict
            | ErrorCode::InvalidStateTransition
            | ErrorCode::ConflictingResourceUpdate
            | ErrorCode::TransferConflict => 409,
            ErrorCode::RequestEntityTooLarge => 413,
            ErrorCode::UnsupportedDocumentEncoding => 415,
            ErrorCode::DataThrottling => 429,
            ErrorCode::LimitExceeded | ErrorCode::TransferAlreadyCompleted => 410,
            ErrorCode::InternalFailure => 500,
            ErrorCode::ServiceUnavailable => 503,
        }
    }
}

/// An AWS IoT error: the exception, its message, and for ResourceAlreadyExists the clash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotError {
    pub code: ErrorCode,
    pub message: String,
    pub resource_id: Option<String>,
    pub resource_arn: Option<String>,
}

pub type IotResult<T> = Result<T, IotError>;

impl IotError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            resource_id: None,
            resource_arn: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }

    pub fn cert_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CertificateState, message)
    }

    pub fn cert_validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CertificateValidation, message)
    }

    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DeleteConflict, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalFailure, message)
    }

    /// ResourceAlreadyExists naming the resource that is already there.
    pub fn already_exists(message: impl Into<String>, id: &str, arn: &str) -> Self {
        Self {
            resource_id: Some(id.to_string()),
            resource_arn: Some(arn.to_string()),
            ..Self::new(ErrorCode::ResourceAlreadyExists, message)
        }
    }
}

impl fmt::Display for IotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for IotError {}

impl From<crate::ParseEnumError> for IotError {
    fn from(e: crate::ParseEnumError) -> Self {
        IotError::invalid(e.to_string())
    }
}
