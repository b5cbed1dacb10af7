import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AddressReleased as _ferry_v1_AddressReleased, AddressReleased__Output as _ferry_v1_AddressReleased__Output } from './ferry/v1/AddressReleased';
import type { AgentClient as _ferry_v1_AgentClient, AgentDefinition as _ferry_v1_AgentDefinition } from './ferry/v1/Agent';
import type { CheckpointAndSendRequest as _ferry_v1_CheckpointAndSendRequest, CheckpointAndSendRequest__Output as _ferry_v1_CheckpointAndSendRequest__Output } from './ferry/v1/CheckpointAndSendRequest';
import type { Checkpointed as _ferry_v1_Checkpointed, Checkpointed__Output as _ferry_v1_Checkpointed__Output } from './ferry/v1/Checkpointed';
import type { CommitReply as _ferry_v1_CommitReply, CommitReply__Output as _ferry_v1_CommitReply__Output } from './ferry/v1/CommitReply';
import type { CommitRequest as _ferry_v1_CommitRequest, CommitRequest__Output as _ferry_v1_CommitRequest__Output } from './ferry/v1/CommitRequest';
import type { CompressionChosen as _ferry_v1_CompressionChosen, CompressionChosen__Output as _ferry_v1_CompressionChosen__Output } from './ferry/v1/CompressionChosen';
import type { ContainerInfo as _ferry_v1_ContainerInfo, ContainerInfo__Output as _ferry_v1_ContainerInfo__Output } from './ferry/v1/ContainerInfo';
import type { ContainerSummary as _ferry_v1_ContainerSummary, ContainerSummary__Output as _ferry_v1_ContainerSummary__Output } from './ferry/v1/ContainerSummary';
import type { CordonRequest as _ferry_v1_CordonRequest, CordonRequest__Output as _ferry_v1_CordonRequest__Output } from './ferry/v1/CordonRequest';
import type { CordonState as _ferry_v1_CordonState, CordonState__Output as _ferry_v1_CordonState__Output } from './ferry/v1/CordonState';
import type { DataSynced as _ferry_v1_DataSynced, DataSynced__Output as _ferry_v1_DataSynced__Output } from './ferry/v1/DataSynced';
import type { Dumped as _ferry_v1_Dumped, Dumped__Output as _ferry_v1_Dumped__Output } from './ferry/v1/Dumped';
import type { Finding as _ferry_v1_Finding, Finding__Output as _ferry_v1_Finding__Output } from './ferry/v1/Finding';
import type { Flow as _ferry_v1_Flow, Flow__Output as _ferry_v1_Flow__Output } from './ferry/v1/Flow';
import type { Freezing as _ferry_v1_Freezing, Freezing__Output as _ferry_v1_Freezing__Output } from './ferry/v1/Freezing';
import type { ImageSent as _ferry_v1_ImageSent, ImageSent__Output as _ferry_v1_ImageSent__Output } from './ferry/v1/ImageSent';
import type { InfoReply as _ferry_v1_InfoReply, InfoReply__Output as _ferry_v1_InfoReply__Output } from './ferry/v1/InfoReply';
import type { InfoRequest as _ferry_v1_InfoRequest, InfoRequest__Output as _ferry_v1_InfoRequest__Output } from './ferry/v1/InfoRequest';
import type { InspectContainerRequest as _ferry_v1_InspectContainerRequest, InspectContainerRequest__Output as _ferry_v1_InspectContainerRequest__Output } from './ferry/v1/InspectContainerRequest';
import type { ListContainersReply as _ferry_v1_ListContainersReply, ListContainersReply__Output as _ferry_v1_ListContainersReply__Output } from './ferry/v1/ListContainersReply';
import type { ListContainersRequest as _ferry_v1_ListContainersRequest, ListContainersRequest__Output as _ferry_v1_ListContainersRequest__Output } from './ferry/v1/ListContainersRequest';
import type { ListMigrationsReply as _ferry_v1_ListMigrationsReply, ListMigrationsReply__Output as _ferry_v1_ListMigrationsReply__Output } from './ferry/v1/ListMigrationsReply';
import type { ListMigrationsRequest as _ferry_v1_ListMigrationsRequest, ListMigrationsRequest__Output as _ferry_v1_ListMigrationsRequest__Output } from './ferry/v1/ListMigrationsRequest';
import type { ListOriginsReply as _ferry_v1_ListOriginsReply, ListOriginsReply__Output as _ferry_v1_ListOriginsReply__Output } from './ferry/v1/ListOriginsReply';
import type { ListOriginsRequest as _ferry_v1_ListOriginsRequest, ListOriginsRequest__Output as _ferry_v1_ListOriginsRequest__Output } from './ferry/v1/ListOriginsRequest';
import type { MigrationEntry as _ferry_v1_MigrationEntry, MigrationEntry__Output as _ferry_v1_MigrationEntry__Output } from './ferry/v1/MigrationEntry';
import type { MigrationEvent as _ferry_v1_MigrationEvent, MigrationEvent__Output as _ferry_v1_MigrationEvent__Output } from './ferry/v1/MigrationEvent';
import type { MigrationStatusReply as _ferry_v1_MigrationStatusReply, MigrationStatusReply__Output as _ferry_v1_MigrationStatusReply__Output } from './ferry/v1/MigrationStatusReply';
import type { MigrationStatusRequest as _ferry_v1_MigrationStatusRequest, MigrationStatusRequest__Output as _ferry_v1_MigrationStatusRequest__Output } from './ferry/v1/MigrationStatusRequest';
import type { Mount as _ferry_v1_Mount, Mount__Output as _ferry_v1_Mount__Output } from './ferry/v1/Mount';
import type { OpenStreamReply as _ferry_v1_OpenStreamReply, OpenStreamReply__Output as _ferry_v1_OpenStreamReply__Output } from './ferry/v1/OpenStreamReply';
import type { OpenStreamRequest as _ferry_v1_OpenStreamRequest, OpenStreamRequest__Output as _ferry_v1_OpenStreamRequest__Output } from './ferry/v1/OpenStreamRequest';
import type { Origin as _ferry_v1_Origin, Origin__Output as _ferry_v1_Origin__Output } from './ferry/v1/Origin';
import type { ParkRequest as _ferry_v1_ParkRequest, ParkRequest__Output as _ferry_v1_ParkRequest__Output } from './ferry/v1/ParkRequest';
import type { ParkResult as _ferry_v1_ParkResult, ParkResult__Output as _ferry_v1_ParkResult__Output } from './ferry/v1/ParkResult';
import type { PhaseTime as _ferry_v1_PhaseTime, PhaseTime__Output as _ferry_v1_PhaseTime__Output } from './ferry/v1/PhaseTime';
import type { PortMapping as _ferry_v1_PortMapping, PortMapping__Output as _ferry_v1_PortMapping__Output } from './ferry/v1/PortMapping';
import type { PreflightCheck as _ferry_v1_PreflightCheck, PreflightCheck__Output as _ferry_v1_PreflightCheck__Output } from './ferry/v1/PreflightCheck';
import type { PrepareReceiveReply as _ferry_v1_PrepareReceiveReply, PrepareReceiveReply__Output as _ferry_v1_PrepareReceiveReply__Output } from './ferry/v1/PrepareReceiveReply';
import type { PrepareReceiveRequest as _ferry_v1_PrepareReceiveRequest, PrepareReceiveRequest__Output as _ferry_v1_PrepareReceiveRequest__Output } from './ferry/v1/PrepareReceiveRequest';
import type { Readiness as _ferry_v1_Readiness, Readiness__Output as _ferry_v1_Readiness__Output } from './ferry/v1/Readiness';
import type { RestoreReply as _ferry_v1_RestoreReply, RestoreReply__Output as _ferry_v1_RestoreReply__Output } from './ferry/v1/RestoreReply';
import type { RestoreRequest as _ferry_v1_RestoreRequest, RestoreRequest__Output as _ferry_v1_RestoreRequest__Output } from './ferry/v1/RestoreRequest';
import type { Retrying as _ferry_v1_Retrying, Retrying__Output as _ferry_v1_Retrying__Output } from './ferry/v1/Retrying';
import type { RollbackReply as _ferry_v1_RollbackReply, RollbackReply__Output as _ferry_v1_RollbackReply__Output } from './ferry/v1/RollbackReply';
import type { RollbackRequest as _ferry_v1_RollbackRequest, RollbackRequest__Output as _ferry_v1_RollbackRequest__Output } from './ferry/v1/RollbackRequest';
import type { SshRoute as _ferry_v1_SshRoute, SshRoute__Output as _ferry_v1_SshRoute__Output } from './ferry/v1/SshRoute';
import type { SystemdUnit as _ferry_v1_SystemdUnit, SystemdUnit__Output as _ferry_v1_SystemdUnit__Output } from './ferry/v1/SystemdUnit';
import type { TakeAddressReply as _ferry_v1_TakeAddressReply, TakeAddressReply__Output as _ferry_v1_TakeAddressReply__Output } from './ferry/v1/TakeAddressReply';
import type { TakeAddressRequest as _ferry_v1_TakeAddressRequest, TakeAddressRequest__Output as _ferry_v1_TakeAddressRequest__Output } from './ferry/v1/TakeAddressRequest';
import type { TransferProgress as _ferry_v1_TransferProgress, TransferProgress__Output as _ferry_v1_TransferProgress__Output } from './ferry/v1/TransferProgress';
import type { Transferred as _ferry_v1_Transferred, Transferred__Output as _ferry_v1_Transferred__Output } from './ferry/v1/Transferred';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ferry: {
    v1: {
      AddressReleased: MessageTypeDefinition<_ferry_v1_AddressReleased, _ferry_v1_AddressReleased__Output>
      Agent: SubtypeConstructor<typeof grpc.Client, _ferry_v1_AgentClient> & { service: _ferry_v1_AgentDefinition }
      CheckpointAndSendRequest: MessageTypeDefinition<_ferry_v1_CheckpointAndSendRequest, _ferry_v1_CheckpointAndSendRequest__Output>
      Checkpointed: MessageTypeDefinition<_ferry_v1_Checkpointed, _ferry_v1_Checkpointed__Output>
      CommitReply: MessageTypeDefinition<_ferry_v1_CommitReply, _ferry_v1_CommitReply__Output>
      CommitRequest: MessageTypeDefinition<_ferry_v1_CommitRequest, _ferry_v1_CommitRequest__Output>
      Compression: EnumTypeDefinition
      CompressionChosen: MessageTypeDefinition<_ferry_v1_CompressionChosen, _ferry_v1_CompressionChosen__Output>
      ContainerInfo: MessageTypeDefinition<_ferry_v1_ContainerInfo, _ferry_v1_ContainerInfo__Output>
      ContainerSummary: MessageTypeDefinition<_ferry_v1_ContainerSummary, _ferry_v1_ContainerSummary__Output>
      CordonRequest: MessageTypeDefinition<_ferry_v1_CordonRequest, _ferry_v1_CordonRequest__Output>
      CordonState: MessageTypeDefinition<_ferry_v1_CordonState, _ferry_v1_CordonState__Output>
      DataSynced: MessageTypeDefinition<_ferry_v1_DataSynced, _ferry_v1_DataSynced__Output>
      Dumped: MessageTypeDefinition<_ferry_v1_Dumped, _ferry_v1_Dumped__Output>
      Finding: MessageTypeDefinition<_ferry_v1_Finding, _ferry_v1_Finding__Output>
      Flow: MessageTypeDefinition<_ferry_v1_Flow, _ferry_v1_Flow__Output>
      Freezing: MessageTypeDefinition<_ferry_v1_Freezing, _ferry_v1_Freezing__Output>
      ImageSent: MessageTypeDefinition<_ferry_v1_ImageSent, _ferry_v1_ImageSent__Output>
      InfoReply: MessageTypeDefinition<_ferry_v1_InfoReply, _ferry_v1_InfoReply__Output>
      InfoRequest: MessageTypeDefinition<_ferry_v1_InfoRequest, _ferry_v1_InfoRequest__Output>
      InspectContainerRequest: MessageTypeDefinition<_ferry_v1_InspectContainerRequest, _ferry_v1_InspectContainerRequest__Output>
      JournalPhase: EnumTypeDefinition
      ListContainersReply: MessageTypeDefinition<_ferry_v1_ListContainersReply, _ferry_v1_ListContainersReply__Output>
      ListContainersRequest: MessageTypeDefinition<_ferry_v1_ListContainersRequest, _ferry_v1_ListContainersRequest__Output>
      ListMigrationsReply: MessageTypeDefinition<_ferry_v1_ListMigrationsReply, _ferry_v1_ListMigrationsReply__Output>
      ListMigrationsRequest: MessageTypeDefinition<_ferry_v1_ListMigrationsRequest, _ferry_v1_ListMigrationsRequest__Output>
      ListOriginsReply: MessageTypeDefinition<_ferry_v1_ListOriginsReply, _ferry_v1_ListOriginsReply__Output>
      ListOriginsRequest: MessageTypeDefinition<_ferry_v1_ListOriginsRequest, _ferry_v1_ListOriginsRequest__Output>
      MigrationEntry: MessageTypeDefinition<_ferry_v1_MigrationEntry, _ferry_v1_MigrationEntry__Output>
      MigrationEvent: MessageTypeDefinition<_ferry_v1_MigrationEvent, _ferry_v1_MigrationEvent__Output>
      MigrationStatusReply: MessageTypeDefinition<_ferry_v1_MigrationStatusReply, _ferry_v1_MigrationStatusReply__Output>
      MigrationStatusRequest: MessageTypeDefinition<_ferry_v1_MigrationStatusRequest, _ferry_v1_MigrationStatusRequest__Output>
      Mount: MessageTypeDefinition<_ferry_v1_Mount, _ferry_v1_Mount__Output>
      OpenStreamReply: MessageTypeDefinition<_ferry_v1_OpenStreamReply, _ferry_v1_OpenStreamReply__Output>
      OpenStreamRequest: MessageTypeDefinition<_ferry_v1_OpenStreamRequest, _ferry_v1_OpenStreamRequest__Output>
      Origin: MessageTypeDefinition<_ferry_v1_Origin, _ferry_v1_Origin__Output>
      OriginState: EnumTypeDefinition
      ParkRequest: MessageTypeDefinition<_ferry_v1_ParkRequest, _ferry_v1_ParkRequest__Output>
      ParkResult: MessageTypeDefinition<_ferry_v1_ParkResult, _ferry_v1_ParkResult__Output>
      PhaseTime: MessageTypeDefinition<_ferry_v1_PhaseTime, _ferry_v1_PhaseTime__Output>
      PortMapping: MessageTypeDefinition<_ferry_v1_PortMapping, _ferry_v1_PortMapping__Output>
      PreflightCheck: MessageTypeDefinition<_ferry_v1_PreflightCheck, _ferry_v1_PreflightCheck__Output>
      PrepareReceiveReply: MessageTypeDefinition<_ferry_v1_PrepareReceiveReply, _ferry_v1_PrepareReceiveReply__Output>
      PrepareReceiveRequest: MessageTypeDefinition<_ferry_v1_PrepareReceiveRequest, _ferry_v1_PrepareReceiveRequest__Output>
      Readiness: MessageTypeDefinition<_ferry_v1_Readiness, _ferry_v1_Readiness__Output>
      RestoreReply: MessageTypeDefinition<_ferry_v1_RestoreReply, _ferry_v1_RestoreReply__Output>
      RestoreRequest: MessageTypeDefinition<_ferry_v1_RestoreRequest, _ferry_v1_RestoreRequest__Output>
      Retrying: MessageTypeDefinition<_ferry_v1_Retrying, _ferry_v1_Retrying__Output>
      Role: EnumTypeDefinition
      RollbackReply: MessageTypeDefinition<_ferry_v1_RollbackReply, _ferry_v1_RollbackReply__Output>
      RollbackRequest: MessageTypeDefinition<_ferry_v1_RollbackRequest, _ferry_v1_RollbackRequest__Output>
      SshRoute: MessageTypeDefinition<_ferry_v1_SshRoute, _ferry_v1_SshRoute__Output>
      StreamKind: EnumTypeDefinition
      SystemdUnit: MessageTypeDefinition<_ferry_v1_SystemdUnit, _ferry_v1_SystemdUnit__Output>
      TakeAddressReply: MessageTypeDefinition<_ferry_v1_TakeAddressReply, _ferry_v1_TakeAddressReply__Output>
      TakeAddressRequest: MessageTypeDefinition<_ferry_v1_TakeAddressRequest, _ferry_v1_TakeAddressRequest__Output>
      TransferProgress: MessageTypeDefinition<_ferry_v1_TransferProgress, _ferry_v1_TransferProgress__Output>
      Transferred: MessageTypeDefinition<_ferry_v1_Transferred, _ferry_v1_Transferred__Output>
      UnitKind: EnumTypeDefinition
    }
  }
}

