# Commit code of the global "On Transaction" scrip: posts the transaction, as the triage
# service's helpdesk webhook payload (api/helpdesk README), signed with HMAC-SHA256.
# Target URL and secret come from the JSON file named by $TriageHookFile, read on every call.
# Errors are logged, never raised: a helpdesk update must not fail because the service is down.
my $ok = eval {
    require HTTP::Tiny; require Digest::SHA; require JSON;
    my $file = RT->Config->Get('TriageHookFile') or return 1;
    open( my $fh, '<', $file ) or die "cannot read $file: $!\n";
    my $conf = do { local $/; JSON::decode_json(<$fh>) };
    close $fh;
    return 1 unless $conf->{url};

    my $txn = RT::Transaction->new( RT->SystemUser );
    $txn->Load( $self->TransactionObj->id );
    my $t = RT::Ticket->new( RT->SystemUser );
    $t->Load( $self->TicketObj->id );
    my $when = sub {
        my $d = shift;
        return undef unless $d && $d->IsSet;
        my $s = $d->ISO( Timezone => 'UTC' );
        $s =~ s/ /T/;
        return $s . 'Z';
    };
    my $field = $txn->Field;
    my ( $old, $new ) = ( $txn->OldValue, $txn->NewValue );
    if ( defined $field && $field eq 'Queue' ) {
        for my $v ( $old, $new ) {
            next unless defined $v && $v =~ /^\d+$/;
            my $q = RT::Queue->new( RT->SystemUser ); $q->Load($v);
            $v = $q->Name if $q->id;
        }
    }
    elsif ( defined $field && $field eq 'Owner' ) {
        for my $v ( $old, $new ) {
            next unless defined $v && $v =~ /^\d+$/;
            my $u = RT::User->new( RT->SystemUser ); $u->Load($v);
            $v = $u->Name if $u->id;
        }
    }
    elsif ( $txn->Type eq 'CustomField' && defined $field ) {
        my $cf = RT::CustomField->new( RT->SystemUser ); $cf->Load($field);
        $field = $cf->Name if $cf->id;
    }
    my $content;
    if ( $txn->Type =~ /^(Create|Correspond|Comment)$/ ) {
        $content = $txn->Content( Type => 'text/plain' );
    }
    my %cfs;
    my $cfs = $t->CustomFields;
    while ( my $cf = $cfs->Next ) {
        my @v = map { $_->Content } @{ $t->CustomFieldValues( $cf->id )->ItemsArrayRef };
        $cfs{ $cf->Name } = $cf->SingleValue ? $v[0] : \@v;
    }
    my @requestors = map { $_->EmailAddress || $_->Name }
        @{ $t->Requestors->UserMembersObj->ItemsArrayRef };
    my $payload = {
        source      => 'rt',
        event_id    => 'rt-txn-' . $txn->id,
        transaction => {
            id        => '' . $txn->id,
            type      => $txn->Type,
            field     => $field,
            old_value => $old,
            new_value => $new,
            creator   => $txn->CreatorObj->Name,
            created   => $when->( $txn->CreatedObj ),
            content   => $content,
        },
        ticket => {
            id            => '' . $t->id,
            subject       => $t->Subject,
            queue         => $t->QueueObj->Name,
            status        => $t->Status,
            owner         => $t->OwnerObj->Name,
            priority      => 0 + ( $t->Priority || 0 ),
            requestors    => \@requestors,
            created       => $when->( $t->CreatedObj ),
            resolved      => $when->( $t->ResolvedObj ),
            custom_fields => \%cfs,
        },
    };
    my $body = JSON->new->utf8->canonical->encode($payload);
    my $ts   = time;
    my $sig  = Digest::SHA::hmac_sha256_hex( "$ts.$body", $conf->{secret} );
    my $res  = HTTP::Tiny->new( timeout => $conf->{timeout_s} || 3 )->post(
        $conf->{url},
        {   content => $body,
            headers => {
                'Content-Type'       => 'application/json',
                'X-Triage-Timestamp' => $ts,
                'X-Triage-Signature' => "sha256=$sig",
            },
        }
    );
    RT->Logger->warning( "triage hook: transaction " . $txn->id . " answered $res->{status}" )
        unless $res->{success};
    1;
};
RT->Logger->error("triage hook failed: $@") unless $ok;
return 1;
